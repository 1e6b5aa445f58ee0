-- The last step of a batch, once every shard it touched has its part: the ratings' statistics,
-- the learning curve's point, the item rows' change notice and where each partition resumes.
-- KEYS: {mf}:applied, {mf}:stats, {mf}:curve, and the change log's sequence, epoch and stream.
-- ARGV: topic, partitions (<i4 each), expected offsets, new offsets (<i8 each), statistics
-- (<ffff: n, sum, sse, sae; '' for watches), curve point ('' for none), curve cap, log cap,
-- changed movie ids (<i8 each).
local topic, partitions, expected, new_offsets = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local stats, point, cap, log_cap, changed = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local fields = mark_fields(topic, partitions)
local now_marks = marks(fields)
if not marks_unchanged(now_marks, expected) then
  local totals = redis.call('HMGET', KEYS[2], 'n', 'sum')
  return {0, now_marks, totals[1] or '0', totals[2] or '0'}
end
if #stats > 0 then
  local n, sum, sse, sae = struct.unpack('<ffff', stats)
  redis.call('HINCRBYFLOAT', KEYS[2], 'n', n)
  redis.call('HINCRBYFLOAT', KEYS[2], 'sum', sum)
  redis.call('HINCRBYFLOAT', KEYS[2], 'sse', sse)
  redis.call('HINCRBYFLOAT', KEYS[2], 'sae', sae)
end
if #point > 0 then
  redis.call('RPUSH', KEYS[3], point)
  redis.call('LTRIM', KEYS[3], -cap, -1)
end
if #changed > 0 then append_notice(KEYS[4], KEYS[5], KEYS[6], log_cap, 'ids', changed) end
set_marks(fields, new_offsets)
local totals = redis.call('HMGET', KEYS[2], 'n', 'sum')
return {1, totals[1] or '0', totals[2] or '0'}
