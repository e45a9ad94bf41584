"""Activities (志愿服务活动): published by teams, signed up for, attended, confirmed."""
