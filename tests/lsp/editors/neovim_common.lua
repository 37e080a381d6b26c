-- What the Neovim scripts share: run the script's body, then write what it
-- saw (and the error, if it failed) as JSON to CODEFILL_OUT and quit.
--   local run = dofile(<this folder> .. "neovim_common.lua")
--   run(result, function() ... end)

return function(result, body)
  local out = assert(os.getenv("CODEFILL_OUT"))
  local ok, err = pcall(body)
  result.error = not ok and tostring(err) or nil
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qall!")
end
