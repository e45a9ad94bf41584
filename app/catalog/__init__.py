"""The service catalog (服务菜单): categories of service residents can order."""
