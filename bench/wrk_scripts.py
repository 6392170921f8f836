"""Lua scripts for wrk: a C load generator leaves the server most of this 2-core machine."""

HEADER = """
local pairs_ = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  local cid, tid = line:match("([^ ]+) ([^ ]+)")
  pairs_[#pairs_ + 1] = {cid, tid}
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
local reported = 0
response = function(status, headers, body)
  -- The first few refusals, verbatim: a benchmark must show what went wrong, not only a count.
  if status >= 300 and reported < 3 then
    reported = reported + 1
    io.write(string.format("NON2XX status=%d body=%s\\n", status, body))
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""

HEARTBEAT_SINGLE = (
    HEADER
    + """
request = function()
  i = i + 1
  local p = pairs_[(i % #pairs_) + 1]
  local body = string.format(
    '{"task_id":"%s","state":"working","phase":"plan","current_activity":"bench","progress":%d}',
    p[2], i % 100)
  return wrk.format(nil, "/api/v1/contracts/" .. p[1] .. "/supervisor/heartbeat", nil, body)
end
"""
)

HEARTBEAT_BATCH = (
    HEADER
    + """
local per = tonumber(os.getenv("BENCH_BATCH"))
request = function()
  local parts = {}
  for n = 1, per do
    i = i + 1
    local p = pairs_[(i % #pairs_) + 1]
    parts[n] = string.format(
      '{"contract_id":"%s","task_id":"%s","state":"working","phase":"plan","current_activity":"bench","progress":%d}',
      p[1], p[2], i % 100)
  end
  local body = '{"heartbeats":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format(nil, "/api/v1/supervisor/heartbeats", nil, body)
end
"""
)

# Each request toggles one contract between paused and active; round robin over thousands
# of contracts means a contract is only revisited long after its last change finished.
TRANSITIONS = (
    HEADER
    + """
local paused = {}
request = function()
  i = i + 1
  local idx = (i % #pairs_) + 1
  local target = "paused"
  if paused[idx] then target = "active" end
  paused[idx] = not paused[idx]
  return wrk.format(nil, "/api/v1/contracts/" .. pairs_[idx][1] .. "/status", nil,
    '{"targetStatus":"' .. target .. '","reason":"bench"}')
end
"""
)
