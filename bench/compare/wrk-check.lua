-- wrk script of `npm run bench` (see wrk.ts): sends each connection's request, checks every
-- answer, and prints one JSON line with the counts when the run ends.
--
--   wrk -t1 ... -s wrk-check.lua URL -- STATUS BODY [PAYLOAD_FILE]
--
-- STATUS, BODY: every answer must have this status and end with this body, else it counts as bad
--               (an answer from the other route's backend, or nginx's own error page).
-- PAYLOAD_FILE: bytes to send instead of the HTTP request: the TLS route's ClientHello.
--
-- wrk parses its first request as HTTP before the run starts (to count pipelined requests) and
-- exits if that fails, so a ClientHello cannot be handed to it as such: that one validation call
-- gets the HTTP request, and every request that goes on the wire is the payload. wrk validates
-- thread 0's request only, so payload runs use one thread (-t1); a stray HTTP request on the TLS
-- route would be answered by the HTTP backend and counted as bad.

local status_expected, body_expected, payload, http_request
local validated = false
ok, bad = 0, 0 -- globals, so that done() can read every thread's with thread:get()
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  status_expected = tonumber(args[1])
  body_expected = args[2]
  if args[3] ~= nil and args[3] ~= "" then
    local f = assert(io.open(args[3], "rb"))
    payload = f:read("*a")
    f:close()
  end
  http_request = wrk.format()
end

function request()
  if payload == nil then return http_request end
  if not validated then
    validated = true
    return http_request
  end
  return payload
end

function response(status, headers, body)
  if status == status_expected and body ~= nil and #body >= #body_expected
     and body:sub(-#body_expected) == body_expected then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-WRK {"requests":%d,"duration_us":%d,"bytes":%d,"ok":%d,"bad":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"latency_p50_us":%d,"latency_p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, o, b,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
