//! Where codes are seen: the coarse places of scans.
//!
//! A scan may carry the place it happens at (`lat`, `lon`). Places are
//! coarse: rounded to 0.01° (about 1 km) before anything is stored or
//! compared, and held as whole hundredths so that comparison is exact. No
//! person is located more precisely than a neighbourhood.

/// A coarse place: latitude and longitude rounded to 0.01°.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Hundredths of a degree.
    lat: i32,
    lon: i32,
}

impl Place {
    /// A place from degrees, rounded to 0.01°; `None` unless both are finite
    /// and within −90…90 (latitude) and −180…180 (longitude).
    pub fn new(lat: f64, lon: f64) -> Option<Place> {
        // NaN and the infinities are in no range either.
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
            return None;
        }
        // In range, so the hundredths fit an i32 and the cast is exact.
        Some(Place {
            lat: (lat * 100.0).round() as i32,
            lon: (lon * 100.0).round() as i32,
        })
    }

    /// Latitude in degrees, as rounded.
    pub fn lat(self) -> f64 {
        f64::from(self.lat) / 100.0
    }

    /// Longitude in degrees, as rounded.
    pub fn lon(self) -> f64 {
        f64::from(self.lon) / 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(lat: f64, lon: f64) -> Place {
        Place::new(lat, lon).expect("a place")
    }

    #[test]
    fn places_are_rounded_to_a_hundredth_of_a_degree() {
        let p = place(43.23871, 76.94559);
        assert_eq!((p.lat(), p.lon()), (43.24, 76.95));
        assert_eq!(place(-0.004, 179.999).lon(), 180.0);
        assert_eq!(place(43.235, 76.9).lat(), 43.24);
    }

    #[test]
    fn a_place_out_of_range_or_not_a_number_is_refused() {
        for (lat, lon) in [
            (90.01, 0.0),
            (-90.5, 0.0),
            (0.0, 180.5),
            (0.0, -181.0),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert_eq!(Place::new(lat, lon), None, "{lat} {lon}");
        }
        assert!(Place::new(90.0, -180.0).is_some());
    }
}
