-- Spread wrk's requests over many URLs (and hosts).
--
--   wrk -s scripts/wrk/spread.lua URL -- FILE [random|cycle]
--
-- FILE has one request per line: "PATH" (sent with wrk's own headers, so
-- the Host given with -H) or "HOST<TAB>PATH" (sent with that Host header).
-- "random" (the default) picks a line uniformly at random for every
-- request; "cycle" walks the file in order, each wrk thread starting at its
-- own offset. Requests are built once, in init, so the script costs wrk no
-- more than a string lookup per request.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

local requests = {}
local mode = "random"
local at = 1

function init(args)
  local file = args[1]
  if file == nil then
    error("spread.lua: give the request file after --")
  end
  mode = args[2] or "random"
  for line in io.lines(file) do
    if line ~= "" then
      local host, path = line:match("^([^\t]+)\t(.+)$")
      if host then
        local headers = {}
        for name, value in pairs(wrk.headers) do
          headers[name] = value
        end
        headers["Host"] = host
        requests[#requests + 1] = wrk.format("GET", path, headers)
      else
        requests[#requests + 1] = wrk.format("GET", line)
      end
    end
  end
  if #requests == 0 then
    error("spread.lua: no requests in " .. file)
  end
  local n = thread_number or 1
  math.randomseed(os.time() * 1000 + n * 7919)
  at = ((n - 1) * 7919) % #requests + 1
end

function request()
  if mode == "cycle" then
    local r = requests[at]
    at = at % #requests + 1
    return r
  end
  return requests[math.random(#requests)]
end
