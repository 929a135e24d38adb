-- The requests of bench/run and bench/soak (see bench/README.md), configured by environment:
--
--   BENCH_PATH        the path asked for (default /health)
--   BENCH_CARRIER     how a token travels: "bearer" (Authorization header, the default) or
--                     "cookie" (__session, with __client_uat = BENCH_CLIENT_UAT)
--   BENCH_POOLS       token files, one token a line: "file:weight:mode,..." where each request
--                     picks a pool at random by weight; mode "cycle" goes round its tokens, "once"
--                     takes each token in turn once (new users arriving), then goes round them
--   BENCH_STREAM      a (big) token file read one line per request; at its end the thread
--                     stops and creates the file BENCH_DONE_FILE (wrk itself runs until its -d
--                     is over or it gets SIGINT: bench/run sends SIGINT when that file appears)
--   BENCH_SEED        seed of the pool choice
--
-- Every request string is made once (wrk.format), so a request costs wrk the same with or
-- without tokens. done() prints one line, "BENCH_RESULT {json}", that the scripts read.

local path = os.getenv("BENCH_PATH") or "/health"
local carrier = os.getenv("BENCH_CARRIER") or "bearer"
local client_uat = os.getenv("BENCH_CLIENT_UAT") or "1"

local function format(token)
   if token == nil then
      return wrk.format("GET", path)
   elseif carrier == "cookie" then
      return wrk.format("GET", path, {
         ["Cookie"] = "__session=" .. token .. "; __client_uat=" .. client_uat,
         ["Accept"] = "text/html",
      })
   else
      return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
   end
end

-- Counters, per thread; done() adds them up.
n2, n3, n4, n5, other, streamed, wrapped = 0, 0, 0, 0, 0, 0, 0

local pools, total_weight, stream, bare = {}, 0, nil, nil

function init(args)
   math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1"))
   local spec = os.getenv("BENCH_POOLS") or ""
   for file, weight, mode in string.gmatch(spec, "([^:,]+):(%d+):(%a+)") do
      local requests = {}
      for line in io.lines(file) do
         if #line > 0 then
            requests[#requests + 1] = format(line)
         end
      end
      assert(#requests > 0, "no tokens in " .. file)
      total_weight = total_weight + tonumber(weight)
      pools[#pools + 1] = {
         requests = requests, weight = tonumber(weight), once = (mode == "once"), next = 1,
      }
   end
   local stream_file = os.getenv("BENCH_STREAM")
   if stream_file and #stream_file > 0 then
      stream = assert(io.open(stream_file, "r"))
   end
   bare = format(nil)
end

local function from(pool)
   local r = pool.requests[pool.next]
   pool.next = pool.next + 1
   if pool.next > #pool.requests then
      pool.next = 1
      if pool.once then
         wrapped = wrapped + 1
      end
   end
   return r
end

function request()
   if stream then
      local line = stream:read("*l")
      if line == nil then
         local done_file = os.getenv("BENCH_DONE_FILE")
         if done_file and #done_file > 0 then
            io.open(done_file, "w"):close()
         end
         wrk.thread:stop()
         return bare
      end
      streamed = streamed + 1
      return format(line)
   end
   if #pools == 0 then
      return bare
   elseif #pools == 1 then
      return from(pools[1])
   end
   local x = math.random() * total_weight
   for _, pool in ipairs(pools) do
      x = x - pool.weight
      if x < 0 then
         return from(pool)
      end
   end
   return from(pools[#pools])
end

-- Counting statuses in Lua makes wrk hand every response to the script, which costs the client
-- (on the same 2 cores) more for bigger bodies; only the mix with invalid tokens needs it (4xx are
-- expected there, 5xx are errors). Elsewhere wrk's own count of non-2xx/3xx answers is used.
if os.getenv("BENCH_COUNT_STATUSES") == "1" then
   function response(status, headers, body)
      if status >= 200 and status < 300 then
         n2 = n2 + 1
      elseif status < 400 and status >= 300 then
         n3 = n3 + 1
      elseif status < 500 and status >= 400 then
         n4 = n4 + 1
      elseif status >= 500 then
         n5 = n5 + 1
      else
         other = other + 1
      end
   end
end

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

function done(summary, latency, requests)
   local sum = { n2 = 0, n3 = 0, n4 = 0, n5 = 0, other = 0, streamed = 0, wrapped = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(sum) do
         sum[name] = sum[name] + (thread:get(name) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
         .. '"timeout": %d, "status_errors": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"n2": %d, "n3": %d, "n4": %d, "n5": %d, "other": %d, "streamed": %d, "wrapped": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency.max,
      sum.n2, sum.n3, sum.n4, sum.n5, sum.other, sum.streamed, sum.wrapped))
end
