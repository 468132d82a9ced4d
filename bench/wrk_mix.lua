-- wrk script for bench/wrk.py: GET a list of paths in turn and report JSON.
--
-- The paths file (one path with its query string per line) is named by the WRK_PATHS environment
-- variable. Each connection-thread starts at its own offset. Any status other than 200 counts as
-- an error, by status. done() prints one line "WRK-JSON {...}" that bench/wrk.py parses.

local paths = {}
local threads = {}

local function load_paths()
  local name = os.getenv("WRK_PATHS")
  for line in io.lines(name) do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
end

function setup(thread)
  thread:set("offset", #threads * 7919)
  threads[#threads + 1] = thread
end

function init(args)
  load_paths()
  index = offset or 0
  statuses = {}
end

function request()
  index = index + 1
  return wrk.format("GET", paths[(index % #paths) + 1])
end

function response(status, headers, body)
  if status ~= 200 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local by_status = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      by_status[code] = (by_status[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(by_status) do
    parts[#parts + 1] = string.format('"%d": %d', code, n)
  end
  local pct = {}
  for _, p in ipairs({50, 90, 95, 99}) do
    pct[#pct + 1] = string.format('"p%d_us": %d', p, latency:percentile(p))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "bytes": %d, %s, "max_us": %d, "mean_us": %.1f,'
      .. ' "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d},'
      .. ' "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, table.concat(pct, ", "), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ", ")
  ))
end
