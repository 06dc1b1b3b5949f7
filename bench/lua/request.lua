-- wrk script for every scenario. Environment:
--   BENCH_METHOD (GET|POST), BENCH_BODY_FILE (request body, optional),
--   BENCH_STATUS (expected status, default 200), BENCH_EXPECT (a substring every good body has),
--   BENCH_REJECT (a substring no good body has, e.g. "errors"),
--   BENCH_HEADERS (more request headers, "Name: value" one a line).
-- Prints one line: bench_result {json}
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "r"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
local extra_headers = os.getenv("BENCH_HEADERS") or ""
for name, value in string.gmatch(extra_headers, "([^:\n]+): ([^\n]+)") do
  wrk.headers[name] = value
end
local expected_status = tonumber(os.getenv("BENCH_STATUS") or "200")
local expect = os.getenv("BENCH_EXPECT") or ""
local reject = os.getenv("BENCH_REJECT") or ""

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, body)
  if status ~= expected_status
    or (expect ~= "" and not string.find(body, expect, 1, true))
    or (reject ~= "" and string.find(body, reject, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + (thread:get("bad") or 0)
  end
  local socket_errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'bench_result {"requests": %d, "duration_s": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "bad": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, total_bad, socket_errors))
end
