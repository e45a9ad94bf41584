"""Volunteer service teams (志愿服务队): specialties, home site, capacity, members."""
