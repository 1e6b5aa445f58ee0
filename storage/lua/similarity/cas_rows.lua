-- KEYS: the rows, then sim:count. ARGV: packed <i4 (expected length, new length) per row, the
-- expected rows concatenated, the new rows concatenated, packed (<i4 movie, <f4 count increment)
-- per row. Writes each row whose stored bytes are still the expected ones, with its count, and
-- answers the 1-based positions of the rows it refused.
local lengths, expected, new, counts = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local refused, at_old, at_new = {}, 1, 1
for i = 1, #KEYS - 1 do
  local old_len, new_len = struct.unpack('<i4i4', lengths, 8 * (i - 1) + 1)
  local stored = redis.call('GET', KEYS[i]) or ''
  if stored == string.sub(expected, at_old, at_old + old_len - 1) then
    redis.call('SET', KEYS[i], string.sub(new, at_new, at_new + new_len - 1))
    local movie, count = struct.unpack('<i4f', counts, 8 * (i - 1) + 1)
    if count ~= 0 then redis.call('HINCRBYFLOAT', KEYS[#KEYS], movie, count) end
  else
    refused[#refused + 1] = i
  end
  at_old, at_new = at_old + old_len, at_new + new_len
end
return refused
