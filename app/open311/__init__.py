"""Open311 GeoReport v2 (a subset) over the catalog and orders."""
