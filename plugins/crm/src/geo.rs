//! Distances on the Earth for "locations near a point": a latitude/longitude box that the
//! store can filter on (cheap, indexed), then the exact great-circle distance for the rows in
//! it, since the box's corners lie farther than the radius.

/// Mean Earth radius (IUGG), in km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

/// The haversine great-circle distance in km.
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (lat_a, lat_b) = (a.latitude.to_radians(), b.latitude.to_radians());
    let half_dlat = (lat_b - lat_a) / 2.0;
    let half_dlon = (b.longitude - a.longitude).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_dlon.sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A box holding every point within a radius of a centre. Longitude is one or two ranges
/// (two when the box crosses the antimeridian), or unrestricted when it reaches a pole.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundingBox {
    pub latitude: (f64, f64),
    pub longitude: Vec<(f64, f64)>,
}

impl BoundingBox {
    pub fn around(centre: Point, radius_km: f64) -> Self {
        let dlat = (radius_km / EARTH_RADIUS_KM).to_degrees();
        let (south, north) = (centre.latitude - dlat, centre.latitude + dlat);
        if south <= -90.0 || north >= 90.0 {
            return Self {
                latitude: (south.max(-90.0), north.min(90.0)),
                longitude: Vec::new(),
            };
        }
        // The widest longitude span is at the latitude nearest a pole.
        let widest = south.abs().max(north.abs()).to_radians();
        let dlon = (dlat / widest.cos()).min(180.0);
        let (west, east) = (centre.longitude - dlon, centre.longitude + dlon);
        let longitude = if dlon >= 180.0 {
            Vec::new()
        } else if west < -180.0 {
            vec![(west + 360.0, 180.0), (-180.0, east)]
        } else if east > 180.0 {
            vec![(west, 180.0), (-180.0, east - 360.0)]
        } else {
            vec![(west, east)]
        };
        Self {
            latitude: (south, north),
            longitude,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: Point = Point {
        latitude: 48.8566,
        longitude: 2.3522,
    };
    const LONDON: Point = Point {
        latitude: 51.5074,
        longitude: -0.1278,
    };

    #[test]
    fn haversine_matches_known_distances() {
        assert!((distance_km(PARIS, LONDON) - 343.5).abs() < 1.0);
        assert_eq!(distance_km(PARIS, PARIS), 0.0);
    }

    #[test]
    fn the_box_holds_the_circle() {
        let bbox = BoundingBox::around(PARIS, 400.0);
        let (west, east) = bbox.longitude[0];
        assert!(bbox.latitude.0 < LONDON.latitude && LONDON.latitude < bbox.latitude.1);
        assert!(west < LONDON.longitude && LONDON.longitude < east);
        // A point due east at the radius lies inside the longitude span.
        let east_edge = Point {
            latitude: PARIS.latitude,
            longitude: east,
        };
        assert!(distance_km(PARIS, east_edge) >= 400.0);
    }

    #[test]
    fn the_box_wraps_the_antimeridian_and_opens_at_the_poles() {
        let fiji = Point {
            latitude: -17.7,
            longitude: 179.9,
        };
        let wrapped = BoundingBox::around(fiji, 50.0);
        assert_eq!(wrapped.longitude.len(), 2);
        assert_eq!(wrapped.longitude[0].1, 180.0);
        assert_eq!(wrapped.longitude[1].0, -180.0);
        let pole = Point {
            latitude: 89.9,
            longitude: 0.0,
        };
        let open = BoundingBox::around(pole, 50.0);
        assert!(open.longitude.is_empty());
        assert_eq!(open.latitude.1, 90.0);
    }
}
