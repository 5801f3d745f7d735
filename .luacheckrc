-- luacheck configuration: one indent width (2 spaces), no globals.
std = "lua54"
max_line_length = 110
ignore = {"212/self", "212/_.*", "213/_.*"}
files["tests/"] = { std = "+busted" }
exclude_files = { "bench/.venv/", "build/", "build-*/" }
