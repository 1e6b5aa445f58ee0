-- One user shard's part of a batch: compare, then write rows, ratings, histories and the shard's
-- applied offsets together, or nothing and answer with the current state.
-- ARGV: topic, partitions (<i4 each), expected offsets, new offsets (<i8 each), row width in bytes,
-- user ids (<i8 each), present (a byte each), old rows, new rows, ratings (SEEN_FORMAT each),
-- history sizes (<i4 each; 0: unchanged), histories.
local topic, partitions, expected, new_offsets = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local width = tonumber(ARGV[5])
local users, present, old, new = ids_of(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local seen, sizes, histories = ARGV[10], ARGV[11], ARGV[12]
local fields = mark_fields(topic, partitions)
local row_keys, history_keys = keys_of(USER_ROW, users), keys_of(HISTORY, users)
local now_marks, now_rows = marks(fields), values_of(row_keys)
if not (marks_unchanged(now_marks, expected) and rows_unchanged(now_rows, present, old, width)) then
  return {0, now_marks, now_rows, values_of(history_keys)}
end
write_rows(row_keys, new, width)
local at = 1
for j = 1, #sizes / 4 do
  local size = struct.unpack('<i4', sizes, 4 * j - 3)
  if size > 0 then redis.call('SET', history_keys[j], string.sub(histories, at, at + size - 1)) end
  at = at + size
end
local by_user = {}
for pos = 1, #seen, struct.size(SEEN_FORMAT) do
  local number, movie, rating = struct.unpack(SEEN_FORMAT, seen, pos)
  local user = id_text(number)
  local fields_ = by_user[user]
  if not fields_ then fields_ = {}; by_user[user] = fields_ end
  fields_[#fields_ + 1] = id_text(movie)
  fields_[#fields_ + 1] = tostring(rating)
end
local now = redis.call('TIME')
local version = now[1] .. '.' .. now[2]  -- readers keep a person's ratings until this changes
for user, fields_ in pairs(by_user) do
  call_sliced('HSET', SEEN .. tag .. ':' .. user, fields_, 2)
  redis.call('SET', SEEN_VERSION .. tag .. ':' .. user, version)
end
set_marks(fields, new_offsets)
return {1}
