-- The benchmark's wrk script (scripts/bench/wrk.ts runs it; see docs/performance.md).
--
-- Each wrk thread sends the request described by the environment and counts every answer by
-- status (2xx and the rest alike) until its deadline. After it, each connection, once the answer
-- to its last request is in, is given an unfinished request head instead of a request: the server
-- waits for the rest of it, so the connection sends nothing more and nothing counted is left in
-- flight. (wrk has no way to leave a connection idle but `delay()`, which costs every request a
-- timer; this costs nothing before the deadline.) When all of a thread's connections are held it
-- prints `omnigate-wrk drained <thread>`; the runner then stops wrk (SIGINT) and done() prints one
-- line `omnigate-wrk result <JSON>` gathered from every thread. So the count of 202s is exact.
--
-- Environment (set by scripts/bench/wrk.ts):
--   OMNIGATE_WRK_METHOD         GET, POST, ...
--   OMNIGATE_WRK_HEADERS_FILE   "Name: value" lines (mode 0600: it holds the Authorization header,
--                               which must not show on wrk's command line)
--   OMNIGATE_WRK_BODY_FILE      the request body (optional)
--   OMNIGATE_WRK_KEY_PREFIX     when set: a unique `Idempotency-Key: <prefix><thread>-<n>` per request
--   OMNIGATE_WRK_DURATION_MS    how long each thread sends, from its init()
--   OMNIGATE_WRK_CONNECTIONS    connections per thread (wrk opens connections / threads each)

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } omnigate_wrk_timespec;
  int clock_gettime(int clock_id, omnigate_wrk_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("omnigate_wrk_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

-- No blank line after the headers: the server keeps waiting for them.
local HOLD_REQUEST = "GET /omnigate-wrk-hold HTTP/1.1\r\nX-Omnigate-Wrk: hold\r\n"

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local function env_number(name)
  return assert(tonumber(os.getenv(name)), name .. " is not set")
end

-- ---------------------------------------------------------------------------------------------
-- The main thread: keeps every thread for done()
-- ---------------------------------------------------------------------------------------------

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

-- ---------------------------------------------------------------------------------------------
-- Each thread (its own Lua state): the globals are what done() reads with thread:get()
-- ---------------------------------------------------------------------------------------------

started = 0     -- requests sent
responses = 0   -- answers received, any status
seen = ""       -- statuses answered so far, "202,429,"; each one counted in status_<code>

local head, body, static_request, key_prefix
local deadline, connections = 0, 0
local held, drained = 0, false
-- wrk calls request() once in its first thread before any connection exists, to check that the
-- request parses (wrk.c main: script_verify_request): that call sends nothing.
local verifying = false
local counter_names = {}

function init(args)
  local method = os.getenv("OMNIGATE_WRK_METHOD") or "GET"
  body = ""
  local body_file = os.getenv("OMNIGATE_WRK_BODY_FILE")
  if body_file and body_file ~= "" then body = read_file(body_file) end
  wrk.method = method
  wrk.body = body

  local lines = { string.format("%s %s HTTP/1.1", method, wrk.path), "Host: " .. wrk.headers["Host"] }
  local headers_file = os.getenv("OMNIGATE_WRK_HEADERS_FILE")
  if headers_file and headers_file ~= "" then
    for line in io.lines(headers_file) do
      local name, value = line:match("^([^:]+): (.*)$")
      if name then
        wrk.headers[name] = value
        lines[#lines + 1] = name .. ": " .. value
      end
    end
  end
  if body ~= "" or method ~= "GET" then lines[#lines + 1] = "Content-Length: " .. #body end
  head = table.concat(lines, "\r\n") .. "\r\n"
  static_request = head .. "\r\n" .. body

  local prefix = os.getenv("OMNIGATE_WRK_KEY_PREFIX")
  if prefix and prefix ~= "" then key_prefix = "Idempotency-Key: " .. prefix .. thread_id .. "-" end

  connections = env_number("OMNIGATE_WRK_CONNECTIONS")
  verifying = thread_id == 1
  deadline = now_ms() + env_number("OMNIGATE_WRK_DURATION_MS")
end

function request()
  if verifying then
    verifying = false
    return static_request
  end
  if now_ms() >= deadline then
    held = held + 1
    if held >= connections and not drained then
      drained = true
      io.stdout:write("omnigate-wrk drained " .. thread_id .. "\n")
      io.stdout:flush()
    end
    return HOLD_REQUEST
  end
  started = started + 1
  if key_prefix then
    return head .. key_prefix .. started .. "\r\n\r\n" .. body
  end
  return static_request
end

function response(status, headers, response_body)
  responses = responses + 1
  local name = counter_names[status]
  if name == nil then
    name = "status_" .. status
    counter_names[status] = name
    _G[name] = 0
    seen = seen .. status .. ","
  end
  _G[name] = _G[name] + 1
end

-- ---------------------------------------------------------------------------------------------
-- The main thread again, after every thread stopped
-- ---------------------------------------------------------------------------------------------

local function int(n)
  return string.format("%.0f", n)
end

function done(summary, latency, requests)
  local status, codes = {}, {}
  local total_started, total_responses = 0, 0
  for _, thread in ipairs(threads) do
    total_started = total_started + thread:get("started")
    total_responses = total_responses + thread:get("responses")
    for code in string.gmatch(thread:get("seen"), "%d+") do
      if status[code] == nil then
        status[code] = 0
        codes[#codes + 1] = code
      end
      status[code] = status[code] + thread:get("status_" .. code)
    end
  end
  local parts = {}
  for _, code in ipairs(codes) do parts[#parts + 1] = string.format('"%s":%s', code, int(status[code])) end
  local e = summary.errors
  local lat = "null"
  if total_responses > 0 and latency.max > 0 then
    lat = string.format(
      '{"p50":%s,"p95":%s,"p99":%s,"max":%s,"mean":%.1f}',
      int(latency:percentile(50)), int(latency:percentile(95)), int(latency:percentile(99)), int(latency.max), latency.mean
    )
  end
  io.stdout:write(string.format(
    'omnigate-wrk result {"threads":%d,"duration_us":%s,"requests":%s,"started":%s,"responses":%s,"status":{%s},' ..
      '"errors":{"connect":%s,"read":%s,"write":%s,"status":%s,"timeout":%s},"latency_us":%s}\n',
    #threads, int(summary.duration), int(summary.requests), int(total_started), int(total_responses), table.concat(parts, ","),
    int(e.connect), int(e.read), int(e.write), int(e.status), int(e.timeout), lat
  ))
  io.stdout:flush()
end
