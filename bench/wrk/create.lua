-- POST the new-household form, each request with its own idempotency key (appended after bench/wrk/report.lua).
-- Arguments (after wrk's `--`): the form's path, the urlencoded fields every request shares (csrf_token from a
-- real GET of the form, head_name, group_id, ...), and a run tag. Each request adds
--   idem_key=<tag>-<thread id>-<n>   address=<tag>-<thread id>-<n>
-- so the key is unique (thread id + counter) and bench/latency.py can count this run's households in the
-- database by their address. The cookie comes as a -H header. `issued` counts requests written (done() sums it).

local path, shared, tag
issued = 0

local headers = {}

function init(args)
   path, shared, tag = args[1], args[2], args[3]
   -- wrk.format() sends only the headers it is given: keep -H's (the cookie) and add the form's type
   for name, value in pairs(wrk.headers) do headers[name] = value end
   headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   issued = issued + 1
   local mark = string.format("%s-%d-%d", tag, id, issued)
   local body = string.format("%s&idem_key=%s&address=%s", shared, mark, mark)
   return wrk.format("POST", path, headers, body)
end
