--- luatrain.cli.plot - draw a metrics CSV as an SVG line chart.
-- `luatrain plot METRICS.csv [-o OUT.svg] [--keys a,b] [--title T] [--logy]`:
-- the command-line face of lt.utils.plot. The host
-- dispatches here when its first argument is "plot" (main(args) gets the
-- remaining arguments). Returns an exit status; it does not call os.exit.
local M = {}

local USAGE = "usage: luatrain plot METRICS.csv [-o OUT.svg] [--keys a,b] [--title T] [--logy]"

--- Runs the command.
-- @param args array of strings (after "plot")
-- @param out, err streams (default io.stdout, io.stderr)
-- @return exit status (0 ok, 1 error, 2 usage)
function M.main(args, out, err)
  args = args or {}
  out, err = out or io.stdout, err or io.stderr
  local csv, opts = nil, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-o" or a == "--out" then opts.out = args[i + 1] i = i + 2
    elseif a == "--keys" or a == "-k" then opts.keys = args[i + 1] i = i + 2
    elseif a == "--title" then opts.title = args[i + 1] i = i + 2
    elseif a == "--logy" then opts.logy = true i = i + 1
    elseif a == "-h" or a == "--help" then out:write(USAGE, "\n") return 0
    elseif a:sub(1, 1) == "-" or csv then err:write(USAGE, "\n") return 2
    else csv = a i = i + 1 end
  end
  if not csv or (args[#args] == "-o") then err:write(USAGE, "\n") return 2 end
  local ok, path, n = pcall(require("luatrain.utils.plot").plot, csv, opts)
  if not ok then
    err:write("luatrain plot: ", (tostring(path):gsub("^plot: ", "")), "\n")
    return 1
  end
  out:write(("wrote %s (%d series)\n"):format(path, n))
  return 0
end

return M
