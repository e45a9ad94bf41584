"""Certificates of service records (志愿服务记录证明): signed, verifiable, JSON and PDF."""
