-- scripts/bench checkout: each wrk thread is one signed-in buyer who buys
-- one card at a time with the wallet until the shop is sold out.
--
--   wrk -t 32 -c 32 -d <long> -H "Host: <shop host>" -H "User-Agent: <as at sign-in>" \
--       -s scripts/wrk/checkout.lua \
--       http://127.0.0.1:<port> -- <buyers file> <out dir> <product id>
--
-- Run with as many connections as threads: one connection per thread, so a
-- thread's requests never overlap and its Lua state is one buyer.
--
-- <buyers file>: one line per thread, "<Cookie header>\t<CSRF token>\t<email>"
-- (line n for the n-th thread, counted from 1 in setup()). The User-Agent
-- must be the one the session signed in with: the app's "strong" session
-- protection drops a session whose client changed.
--
-- Per order, one request (a wallet purchase creates, pays and delivers):
--   POST /api/v1/orders {product_id, quantity 1, email, "pay": "wallet"}
--        (Cookie, X-CSRFToken, a fresh Idempotency-Key) -> the order,
--        "delivered", with its code
--   while the order is not delivered (only if that ever changes):
--        GET /api/v1/orders/<number>  (asked again after 20 ms, then x1.5
--        each time, at most 250 ms)
--
-- create -> delivered is timed per order with CLOCK_MONOTONIC (LuaJIT ffi):
-- from building the purchase request to reading the answer that says
-- "delivered". A purchase answered 409 out-of-stock means the shelf is
-- empty: the thread writes its results and stops (wrk.thread:stop()).
--
-- Each thread writes <out dir>/thread-<id>.txt:
--   start <t>                       monotonic seconds of its first create
--   order <t delivered> <seconds>   one line per delivered order
--   error <what> <status> <detail>  one line per error (at most 50 kept)
--   counts <delivered> <sold_out> <errors>
--   end <reason>
-- written to a temporary name and renamed, so a file that exists is complete.
-- Threads still running when wrk stops (its -d ran out, or it was
-- interrupted) are written by done() from their globals, with end "cut".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local ORDER_STATES = {
  pending_payment = true, paid = true, fulfilling = true, delivered = true,
  partially_delivered = true, expired = true, cancelled = true, failed = true,
  refunded = true,
}
local FINAL_UNDELIVERED = {
  partially_delivered = true, expired = true, cancelled = true, failed = true, refunded = true,
}
local MAX_ERRORS_IN_A_ROW = 20

-- setup and done run in wrk's main Lua state ---------------------------------

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

-- the running phase: one Lua state per thread ---------------------------------

local function read_line(path, n)
  local i = 0
  for line in io.lines(path) do
    i = i + 1
    if i == n then return line end
  end
  error(("%s has no line %d"):format(path, n))
end

local function order_status(body)
  -- The order's own status. Arrays go first (the history lists every state
  -- the order passed through, each as "status"); of what is left, the one
  -- "status" value that names an order state (the pay answer also has the
  -- payment's own "status", "succeeded").
  local flat = body:gsub("%b[]", "[]")
  for value in flat:gmatch('"status"%s*:%s*"([%a_]+)"') do
    if ORDER_STATES[value] then return value end
  end
  return nil
end

function init(args)
  local line = read_line(args[1], id)
  cookie, csrf, email = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
  out_dir, product_id = args[2], args[3]
  create_body = ('{"product_id": "%s", "quantity": 1, "email": "%s", "pay": "wallet"}'):format(
    product_id, email)
  math.randomseed(id * 7919 + math.floor(now() * 1e6) % 1000003)

  results = {}          -- "order <t> <seconds>" lines
  errors_seen = {}      -- "error ..." lines
  delivered, sold_out, errors, errors_in_a_row = 0, 0, 0, 0
  started_at = nil
  finished = false
  seq = 0
  pause = 0             -- what delay() answers before the next request
  new_order()
end

function new_order()
  state = "create"
  seq = seq + 1
  key = ("b%d-%d-%08x"):format(id, seq, math.random(0, 0x7fffffff))
  number, t_create = nil, nil
  backoff = 0.020
end

local function note_error(what, status, body)
  errors = errors + 1
  errors_in_a_row = errors_in_a_row + 1
  if #errors_seen < 50 then
    local detail = (body or ""):sub(1, 160):gsub("[\r\n\t]", " ")
    table.insert(errors_seen, ("error %s %s %s"):format(what, tostring(status), detail))
  end
end

local function report(reason)
  local lines = { ("start %.6f"):format(started_at or 0) }
  for _, line in ipairs(results) do table.insert(lines, line) end
  for _, line in ipairs(errors_seen) do table.insert(lines, line) end
  table.insert(lines, ("counts %d %d %d"):format(delivered, sold_out, errors))
  table.insert(lines, "end " .. reason)
  return table.concat(lines, "\n") .. "\n"
end

local function write_report(dir, thread_id, text)
  local path = ("%s/thread-%d.txt"):format(dir, thread_id)
  local file = assert(io.open(path .. ".tmp", "w"))
  file:write(text)
  file:close()
  assert(os.rename(path .. ".tmp", path))
end

local function finish(reason)
  if finished then return end
  finished = true
  write_report(out_dir, id, report(reason))
  wrk.thread:stop()
end

function request()
  -- wrk.format() takes only Host from wrk.headers when given a table: the
  -- -H headers (User-Agent) are copied in here.
  local headers = { Cookie = cookie }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  if state == "create" then
    -- A reconnect asks for the request again: the same Idempotency-Key
    -- then returns the same order, and the clock keeps its first start.
    t_create = t_create or now()
    started_at = started_at or t_create
    headers["Content-Type"] = "application/json"
    headers["X-CSRFToken"] = csrf
    headers["Idempotency-Key"] = key
    return wrk.format("POST", "/api/v1/orders", headers, create_body)
  else
    return wrk.format("GET", "/api/v1/orders/" .. number, headers)
  end
end

function delay()
  return pause
end

local function delivered_now()
  local t = now()
  delivered = delivered + 1
  errors_in_a_row = 0
  table.insert(results, ("order %.6f %.6f"):format(t, t - t_create))
  pause = 0
  new_order()
end

local function not_yet()
  -- Not delivered yet: ask again after a growing pause.
  pause = math.floor(backoff * 1000 + 0.5)
  backoff = math.min(backoff * 1.5, 0.250)
  state = "poll"
end

local function give_up(what, status, body)
  note_error(what, status, body)
  if errors_in_a_row >= MAX_ERRORS_IN_A_ROW then
    finish("errors")
    return
  end
  pause = 100
  new_order()
end

function response(status, headers, body)
  if finished then return end
  body = body or ""
  if state == "create" then
    if status == 409 and body:find("out-of-stock", 1, true) then
      sold_out = sold_out + 1
      finish("sold_out")
    elseif status == 201 or status == 200 then
      -- 200: a replay of the same key (a reconnect) answers the same order.
      number = body:match('"number"%s*:%s*"([^"]+)"')
      local order = order_status(body)
      if number and order == "delivered" then
        delivered_now()
      elseif number and order and not FINAL_UNDELIVERED[order] then
        not_yet()
      else
        give_up("create", status, body)
      end
    else
      give_up("create", status, body)
    end
  else -- "poll" answers with the order
    local order = status == 200 and order_status(body)
    if order == "delivered" then
      delivered_now()
    elseif order and FINAL_UNDELIVERED[order] then
      give_up(state, order, body)
    elseif order then
      not_yet()
    else
      give_up(state, status, body)
    end
  end
end

-- done runs in the main state after every thread has stopped -----------------

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if not thread:get("finished") then
      -- Stopped from outside (duration over, or interrupted): rebuild the
      -- report from the thread's globals.
      local tid = thread:get("id")
      local dir = thread:get("out_dir")
      if dir then
        local lines = { ("start %.6f"):format(thread:get("started_at") or 0) }
        for _, line in ipairs(thread:get("results") or {}) do table.insert(lines, line) end
        for _, line in ipairs(thread:get("errors_seen") or {}) do table.insert(lines, line) end
        table.insert(lines, ("counts %d %d %d"):format(
          thread:get("delivered") or 0, thread:get("sold_out") or 0, thread:get("errors") or 0))
        table.insert(lines, "end cut")
        write_report(dir, tid, table.concat(lines, "\n") .. "\n")
      end
    end
  end
end
