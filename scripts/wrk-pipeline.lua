-- wrk script: send DEPTH requests back to back in each write (HTTP/1.1
-- pipelining), so wrk can be compared with `blast -p DEPTH`.
-- Usage: wrk -s scripts/wrk-pipeline.lua <url> -- [DEPTH]   (default 16)
-- wrk counts one completed request per parsed response, so its totals and
-- Requests/sec stay comparable with the non-pipelined runs.

local batch

function init(args)
   local depth = tonumber(args[1]) or 16
   local one = wrk.format()
   local parts = {}
   for i = 1, depth do
      parts[i] = one
   end
   batch = table.concat(parts)
end

function request()
   return batch
end
