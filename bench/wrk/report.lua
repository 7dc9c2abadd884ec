-- Loaded first in every wrk run of the bench (bench/latency.py joins it with a row's own script, if any).
-- setup() numbers the threads (the global `id` in each thread's Lua state) and keeps them, so done() can add up
-- what each thread counted; done() prints one line that bench/latency.py parse_report() reads:
--   BENCH requests=... duration_us=... p50_us=... p95_us=... p99_us=... (all integers)
-- Latencies are microseconds from wrk's histogram (latency:percentile); status_errors are answers of 400 or
-- more (wrk's summary.errors.status), so requests - status_errors are the 2xx/3xx answers.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local issued = 0
   for _, thread in ipairs(threads) do
      issued = issued + (tonumber(thread:get("issued")) or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d status_errors=%d connect_errors=%d read_errors=%d " ..
      "write_errors=%d timeouts=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d mean_us=%d issued=%d threads=%d\n",
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50.0), latency:percentile(95.0), latency:percentile(99.0), latency.max,
      math.floor(latency.mean + 0.5), issued, #threads))
end
