"""`make bench`: city-sized datasets and the measurements named in the issues. Not part of tests."""
