//! Dense travel matrices built once per solve.
//!
//! Every inner loop of the search reads distances and durations, so they live in two flat
//! row-major `Vec<f64>` rather than being computed from coordinates on demand. The same
//! builder serves the independent checker: the matrix is input data, not solver logic.

use crate::model::{Location, TravelModel};

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Clone, Debug)]
pub struct TravelMatrix {
    size: usize,
    distance: Vec<f64>,
    duration: Vec<f64>,
    /// Column-major copies (`[to * size + from]`) when the matrices are not symmetric, so
    /// that "from every node to this one" is a contiguous slice too; `None` when symmetric.
    transposed: Option<(Vec<f64>, Vec<f64>)>,
}

impl TravelMatrix {
    /// Builds the matrix; the caller has validated the problem (sizes, finite values).
    pub fn build(locations: &[Location], travel: &TravelModel) -> Self {
        let size = locations.len();
        let mut distance = vec![0.0; size * size];
        let mut duration = vec![0.0; size * size];
        match travel {
            TravelModel::Matrix {
                distances,
                durations,
            } => {
                for from in 0..size {
                    distance[from * size..(from + 1) * size].copy_from_slice(&distances[from]);
                    duration[from * size..(from + 1) * size].copy_from_slice(&durations[from]);
                }
            }
            // Both formulas are symmetric: compute each pair once.
            TravelModel::Euclidean { speed } => {
                fill_symmetric(size, &mut distance, &mut duration, *speed, |a, b| {
                    planar_distance(locations[a], locations[b])
                })
            }
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
                fill_symmetric(size, &mut distance, &mut duration, *speed_mps, |a, b| {
                    haversine_m(points[a], points[b])
                })
            }
        }
        let transposed = (!is_symmetric(size, &distance) || !is_symmetric(size, &duration))
            .then(|| (transpose(size, &distance), transpose(size, &duration)));
        Self {
            size,
            distance,
            duration,
            transposed,
        }
    }

    #[inline]
    pub fn distance(&self, from: usize, to: usize) -> f64 {
        self.distance[from * self.size + to]
    }

    #[inline]
    pub fn duration(&self, from: usize, to: usize) -> f64 {
        self.duration[from * self.size + to]
    }

    /// Distances from `from` to every location, indexed by destination.
    #[inline]
    pub fn distances_from(&self, from: usize) -> &[f64] {
        self.row(&self.distance, from)
    }

    /// Distances from every location to `to`, indexed by origin.
    #[inline]
    pub fn distances_to(&self, to: usize) -> &[f64] {
        self.row(
            self.transposed.as_ref().map_or(&self.distance, |t| &t.0),
            to,
        )
    }

    /// Durations from `from` to every location, indexed by destination.
    #[inline]
    pub fn durations_from(&self, from: usize) -> &[f64] {
        self.row(&self.duration, from)
    }

    /// Durations from every location to `to`, indexed by origin.
    #[inline]
    pub fn durations_to(&self, to: usize) -> &[f64] {
        self.row(
            self.transposed.as_ref().map_or(&self.duration, |t| &t.1),
            to,
        )
    }

    #[inline]
    fn row<'a>(&self, values: &'a [f64], at: usize) -> &'a [f64] {
        &values[at * self.size..(at + 1) * self.size]
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn max_distance(&self) -> f64 {
        self.distance.iter().copied().fold(0.0, f64::max)
    }
}

fn is_symmetric(size: usize, matrix: &[f64]) -> bool {
    (0..size).all(|a| (a + 1..size).all(|b| matrix[a * size + b] == matrix[b * size + a]))
}

fn transpose(size: usize, matrix: &[f64]) -> Vec<f64> {
    let mut columns = vec![0.0; size * size];
    for from in 0..size {
        for to in 0..size {
            columns[to * size + from] = matrix[from * size + to];
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
    2.0 * EARTH_RADIUS_M * libm::asin(h.sqrt().min(1.0))
}

fn fill_symmetric(
    size: usize,
    distance: &mut [f64],
    duration: &mut [f64],
    speed: f64,
    metric: impl Fn(usize, usize) -> f64,
) {
    for from in 0..size {
        for to in from + 1..size {
            let d = metric(from, to);
            distance[from * size + to] = d;
            distance[to * size + from] = d;
            duration[from * size + to] = d / speed;
            duration[to * size + from] = d / speed;
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
                assert_eq!(m.distances_from(a)[b], m.distance(a, b));
                assert_eq!(m.distances_to(b)[a], m.distance(a, b));
                assert_eq!(m.durations_from(a)[b], m.duration(a, b));
                assert_eq!(m.durations_to(b)[a], m.duration(a, b));
            }
        }
        let symmetric = TravelMatrix::build(&[here; 3], &TravelModel::Euclidean { speed: 1.0 });
        assert!(symmetric.transposed.is_none());
    }
}
