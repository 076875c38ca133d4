//! Dense travel matrices built once per solve.
//!
//! Every inner loop of the search reads distances and durations, so they live in one flat
//! row-major `Vec<Leg>` rather than being computed from coordinates on demand. A leg's
//! distance and duration sit side by side: the insertion scan reads both for the same pair of
//! locations, so one row pointer and one address serve both loads (four row pointers were
//! more loop state than the module build keeps in registers). The same builder serves the
//! independent checker: the matrix is input data, not solver logic.

use crate::instance::{earlier, later};
use crate::model::{Location, TravelModel};

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Travel from one location to another.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Leg {
    pub distance: f64,
    pub duration: f64,
}

#[derive(Clone, Debug)]
pub struct TravelMatrix {
    size: usize,
    /// `[from * size + to]`.
    legs: Vec<Leg>,
    /// A column-major copy (`[to * size + from]`) when the matrix is not symmetric, so that
    /// "from every location to this one" is a contiguous slice too; `None` when symmetric.
    transposed: Option<Vec<Leg>>,
}

impl TravelMatrix {
    /// Builds the matrix; the caller has validated the problem (sizes, finite values).
    pub fn build(locations: &[Location], travel: &TravelModel) -> Self {
        let size = locations.len();
        let mut legs = vec![Leg::default(); size * size];
        let mut symmetric = true;
        match travel {
            TravelModel::Matrix {
                distances,
                durations,
            } => {
                for (from, row) in legs.chunks_exact_mut(size.max(1)).enumerate() {
                    for (to, leg) in row.iter_mut().enumerate() {
                        *leg = Leg {
                            distance: distances[from][to],
                            duration: durations[from][to],
                        };
                    }
                }
                symmetric = is_symmetric(size, &legs);
            }
            // Both formulas are symmetric: compute each pair once.
            TravelModel::Euclidean { speed } => fill_symmetric(size, &mut legs, *speed, |a, b| {
                planar_distance(locations[a], locations[b])
            }),
            TravelModel::Haversine { speed_mps } => {
                // Radians and cos(latitude) once per location, not once per pair.
                let points: Vec<(f64, f64, f64)> = locations
                    .iter()
                    .map(|&l| {
                        let (lon, lat) = xy(l);
                        (
                            lat.to_radians(),
                            lon.to_radians(),
                            libm::cos(lat.to_radians()),
                        )
                    })
                    .collect();
                fill_symmetric(size, &mut legs, *speed_mps, |a, b| {
                    haversine_m(points[a], points[b])
                })
            }
        }
        let transposed = (!symmetric).then(|| transpose(size, &legs));
        Self {
            size,
            legs,
            transposed,
        }
    }

    #[inline]
    pub fn leg(&self, from: usize, to: usize) -> Leg {
        self.legs[from * self.size + to]
    }

    #[inline]
    pub fn distance(&self, from: usize, to: usize) -> f64 {
        self.leg(from, to).distance
    }

    #[inline]
    pub fn duration(&self, from: usize, to: usize) -> f64 {
        self.leg(from, to).duration
    }

    /// Legs from `from` to every location, indexed by destination.
    #[inline]
    pub fn legs_from(&self, from: usize) -> &[Leg] {
        self.row(&self.legs, from)
    }

    /// Legs from every location to `to`, indexed by origin.
    #[inline]
    pub fn legs_to(&self, to: usize) -> &[Leg] {
        self.row(self.transposed.as_ref().unwrap_or(&self.legs), to)
    }

    #[inline]
    fn row<'a>(&self, legs: &'a [Leg], at: usize) -> &'a [Leg] {
        &legs[at * self.size..(at + 1) * self.size]
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn max_distance(&self) -> f64 {
        self.legs.iter().map(|leg| leg.distance).fold(0.0, later)
    }
}

fn is_symmetric(size: usize, legs: &[Leg]) -> bool {
    (0..size).all(|a| (a + 1..size).all(|b| legs[a * size + b] == legs[b * size + a]))
}

fn transpose(size: usize, legs: &[Leg]) -> Vec<Leg> {
    let mut columns = vec![Leg::default(); size * size];
    for from in 0..size {
        for to in 0..size {
            columns[to * size + from] = legs[from * size + to];
        }
    }
    columns
}

fn xy(location: Location) -> (f64, f64) {
    match location {
        Location::Plane { x, y } => (x, y),
        Location::Geo { lat, lon } => (lon, lat),
    }
}

fn planar_distance(a: Location, b: Location) -> f64 {
    let (ax, ay) = xy(a);
    let (bx, by) = xy(b);
    libm::hypot(ax - bx, ay - by)
}

/// Great-circle distance between (lat rad, lon rad, cos lat) points.
fn haversine_m(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
    let half_dphi = (b.0 - a.0) / 2.0;
    let half_dlambda = (b.1 - a.1) / 2.0;
    let h = libm::sin(half_dphi).powi(2) + a.2 * b.2 * libm::sin(half_dlambda).powi(2);
    2.0 * EARTH_RADIUS_M * libm::asin(earlier(h.sqrt(), 1.0))
}

/// Computes each pair of locations once and writes both legs, a square tile and its mirror
/// at a time: the mirrored writes then fill a few cache lines of each row they touch
/// instead of one line per write (a 2,000-location matrix is 64 MB).
fn fill_symmetric(size: usize, legs: &mut [Leg], speed: f64, metric: impl Fn(usize, usize) -> f64) {
    const TILE: usize = 32;
    for row_tile in (0..size).step_by(TILE) {
        for column_tile in (row_tile..size).step_by(TILE) {
            for from in row_tile..(row_tile + TILE).min(size) {
                for to in column_tile.max(from + 1)..(column_tile + TILE).min(size) {
                    let distance = metric(from, to);
                    let leg = Leg {
                        distance,
                        duration: distance / speed,
                    };
                    legs[from * size + to] = leg;
                    legs[to * size + from] = leg;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_paris_london_is_about_344_km() {
        let paris = Location::Geo {
            lat: 48.8566,
            lon: 2.3522,
        };
        let london = Location::Geo {
            lat: 51.5074,
            lon: -0.1278,
        };
        let m = TravelMatrix::build(
            &[paris, london],
            &TravelModel::Haversine { speed_mps: 10.0 },
        );
        assert!(
            (m.distance(0, 1) - 343_560.0).abs() < 1_000.0,
            "{}",
            m.distance(0, 1)
        );
        assert!((m.duration(0, 1) - m.distance(0, 1) / 10.0).abs() < 1e-9);
    }

    #[test]
    fn symmetric_fill_covers_every_pair_across_tiles() {
        // 70 locations: two full tiles and a partial one in each direction.
        let locations: Vec<Location> = (0..70)
            .map(|i| Location::Plane {
                x: (i * 37 % 101) as f64,
                y: (i * 53 % 89) as f64,
            })
            .collect();
        let m = TravelMatrix::build(&locations, &TravelModel::Euclidean { speed: 2.0 });
        for a in 0..70 {
            for b in 0..70 {
                let expected = if a == b {
                    0.0
                } else {
                    planar_distance(locations[a], locations[b])
                };
                assert_eq!(m.distance(a, b), expected, "({a}, {b})");
                assert_eq!(m.duration(a, b), expected / 2.0, "({a}, {b})");
            }
        }
        assert!(m.transposed.is_none());
    }

    #[test]
    fn rows_and_columns_agree_with_the_matrix_when_asymmetric() {
        let distances = vec![
            vec![0.0, 1.0, 2.0],
            vec![3.0, 0.0, 4.0],
            vec![5.0, 6.0, 0.0],
        ];
        let durations = vec![
            vec![0.0, 7.0, 8.0],
            vec![9.0, 0.0, 10.0],
            vec![11.0, 12.0, 0.0],
        ];
        let here = Location::Plane { x: 0.0, y: 0.0 };
        let m = TravelMatrix::build(
            &[here; 3],
            &TravelModel::Matrix {
                distances,
                durations,
            },
        );
        assert!(m.transposed.is_some());
        for a in 0..3 {
            for b in 0..3 {
                assert_eq!(m.legs_from(a)[b], m.leg(a, b));
                assert_eq!(m.legs_to(b)[a], m.leg(a, b));
                assert_eq!(m.leg(a, b).distance, m.distance(a, b));
                assert_eq!(m.leg(a, b).duration, m.duration(a, b));
            }
        }
        let symmetric = TravelMatrix::build(&[here; 3], &TravelModel::Euclidean { speed: 1.0 });
        assert!(symmetric.transposed.is_none());
    }
}
