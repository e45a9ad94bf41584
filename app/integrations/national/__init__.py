"""The exchange with national volunteer platforms (全国志愿服务信息系统 / 志愿中国): the documented
exchange format (`exchange.py`, `docs/national-exchange.md`), streaming exports and the push
connector."""
