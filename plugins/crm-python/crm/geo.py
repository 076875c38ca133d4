"""Distances on the Earth for "locations near a point": a latitude/longitude box that the
store can filter on (cheap, indexed), then the exact great-circle distance for the rows in
it, since the box's corners lie farther than the radius."""

import math

# Mean Earth radius (IUGG), in km.
EARTH_RADIUS_KM = 6371.0088


def distance_km(a, b):
    """The haversine great-circle distance in km between two (latitude, longitude)."""
    lat_a, lat_b = math.radians(a[0]), math.radians(b[0])
    half_dlat = (lat_b - lat_a) / 2.0
    half_dlon = math.radians(b[1] - a[1]) / 2.0
    h = math.sin(half_dlat) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(half_dlon) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(math.sqrt(h), 1.0))


def bounding_box(centre, radius_km):
    """`((south, north), [(west, east), ...])`: a box holding every point within the radius.
    Longitude is one or two ranges (two across the antimeridian), or none (unrestricted)
    when the box reaches a pole."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    south, north = centre[0] - dlat, centre[0] + dlat
    if south <= -90.0 or north >= 90.0:
        return (max(south, -90.0), min(north, 90.0)), []
    # The widest longitude span is at the latitude nearest a pole.
    widest = math.radians(max(abs(south), abs(north)))
    dlon = min(dlat / math.cos(widest), 180.0)
    west, east = centre[1] - dlon, centre[1] + dlon
    if dlon >= 180.0:
        longitude = []
    elif west < -180.0:
        longitude = [(west + 360.0, 180.0), (-180.0, east)]
    elif east > 180.0:
        longitude = [(west, 180.0), (-180.0, east - 360.0)]
    else:
        longitude = [(west, east)]
    return (south, north), longitude
