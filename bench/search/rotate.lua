-- wrk script: rotate through request paths, so a cached run is not one hot key.
--
--   wrk -s bench/search/rotate.lua http://127.0.0.1:PORT -- paths.txt
--
-- paths.txt holds one path+query per line. Each wrk thread starts at a
-- different offset. done() prints one machine-readable line with exact
-- percentiles (microseconds) and error counts.

local paths = {}
local next_index = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. args[1])
  next_index = ((offset or 0) * 7) % #paths
end

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d" ..
    " non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
