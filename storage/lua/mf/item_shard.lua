-- One item shard's part of a batch: compare, then write rows, new members and the shard's applied
-- offsets together, or nothing and answer with the current state.
-- ARGV: topic, partitions (<i4 each), expected offsets, new offsets (<i8 each), row width in bytes,
-- movie ids (<i8 each), present (a byte each), old rows, new rows.
local topic, partitions, expected, new_offsets = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local width = tonumber(ARGV[5])
local movies, present, old, new = ids_of(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local fields = mark_fields(topic, partitions)
local row_keys = keys_of(ITEM_ROW, movies)
local now_marks, now_rows = marks(fields), values_of(row_keys)
if not (marks_unchanged(now_marks, expected) and rows_unchanged(now_rows, present, old, width)) then
  return {0, now_marks, now_rows}
end
write_rows(row_keys, new, width)
local members = {}
for j = 1, #movies do
  if string.byte(present, j) == 0 then members[#members + 1] = movies[j] end
end
if #members > 0 then call_sliced('SADD', ITEMS .. tag, members, 1) end
set_marks(fields, new_offsets)
return {1}
