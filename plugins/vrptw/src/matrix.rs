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
                        (lat.to_radians(), lon.to_radians(), lat.to_radians().cos())
                    })
                    .collect();
                fill_symmetric(size, &mut distance, &mut duration, *speed_mps, |a, b| {
                    haversine_m(points[a], points[b])
                })
            }
        }
        Self {
            size,
            distance,
            duration,
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

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn max_distance(&self) -> f64 {
        self.distance.iter().copied().fold(0.0, f64::max)
    }
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
    (ax - bx).hypot(ay - by)
}

/// Great-circle distance between (lat rad, lon rad, cos lat) points.
fn haversine_m(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
    let half_dphi = (b.0 - a.0) / 2.0;
    let half_dlambda = (b.1 - a.1) / 2.0;
    let h = half_dphi.sin().powi(2) + a.2 * b.2 * half_dlambda.sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
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
}
