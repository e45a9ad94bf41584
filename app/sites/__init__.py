"""Practice sites: 新时代文明实践中心 (county), 所 (township), 站 (village/community)."""
