"""Use cases: each service takes its ports in the constructor and does one job."""
