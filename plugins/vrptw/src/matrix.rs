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
        for from in 0..size {
            for to in 0..size {
                let k = from * size + to;
                let (d, t) = match travel {
                    TravelModel::Euclidean { speed } => {
                        let d = planar_distance(locations[from], locations[to]);
                        (d, d / speed)
                    }
                    TravelModel::Haversine { speed_mps } => {
                        let d = haversine_m(locations[from], locations[to]);
                        (d, d / speed_mps)
                    }
                    TravelModel::Matrix {
                        distances,
                        durations,
                    } => (distances[from][to], durations[from][to]),
                };
                distance[k] = d;
                duration[k] = t;
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

fn haversine_m(a: Location, b: Location) -> f64 {
    let (lon1, lat1) = xy(a);
    let (lon2, lat2) = xy(b);
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
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
