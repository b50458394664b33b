-- wrk script: POST /unsubscribe/{token} with the RFC 8058 one-click body, cycling
-- through the tokens in tokens.txt (one per line), each thread from its own offset.

local tokens = {}
local i = 0

function init(args)
  local path = args[1] or "tokens.txt"
  for line in io.lines(path) do
    tokens[#tokens + 1] = line
  end
  i = math.random(#tokens)
  wrk.method = "POST"
  wrk.body = "List-Unsubscribe=One-Click"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  i = i % #tokens + 1
  return wrk.format(nil, "/unsubscribe/" .. tokens[i])
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d, non-2xx/3xx: %d, socket errors: %d\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
