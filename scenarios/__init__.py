"""The shipped scenarios and metric profiles, as package data (see loadtests/config/shipped.py)."""
