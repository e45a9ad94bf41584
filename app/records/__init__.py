"""Service records (志愿服务记录): hours per volunteer per order or activity."""
