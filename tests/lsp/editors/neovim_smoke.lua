-- A real editor against the bridge: Neovim (0.7 or newer) headless starts
-- `codefill lsp`, edits a buffer (Neovim sends its own incremental didChange),
-- asks for completions, and writes what it saw as JSON for the test to check.
--
--   CODEFILL_CMD       the bridge command, space-separated (e.g. "python -m codefill.cli lsp")
--   CODEFILL_SERVER    the codefill server URL
--   CODEFILL_DIR       a folder for the buffer's file
--   CODEFILL_OUT       where to write the JSON result
--
-- Run: nvim --headless --clean -c "luafile neovim_smoke.lua"

local run = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "neovim_common.lua")
local dir = assert(os.getenv("CODEFILL_DIR"))
local result = { version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) }

run(result, function()
  local cmd = vim.split(assert(os.getenv("CODEFILL_CMD")), " ", { trimempty = true })
  vim.list_extend(cmd, { "--server-url", assert(os.getenv("CODEFILL_SERVER")) })

  vim.cmd("edit " .. dir .. "/demo.py")
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "python"
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, { "def add(a, b):", "    return ", "", "print(add(1, 2))" })

  local client_id = vim.lsp.start_client({
    name = "codefill",
    cmd = cmd,
    root_dir = dir,
    init_options = { codefill = { maxTokens = 32, timeoutMs = 60000, deadlineMs = 60000 } },
  })
  vim.lsp.buf_attach_client(bufnr, client_id)
  assert(vim.wait(30000, function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized
  end, 50), "the bridge did not initialize")
  local client = vim.lsp.get_client_by_id(client_id)
  result.inline_capability = client.server_capabilities.inlineCompletionProvider ~= nil
  result.sync_kind = client.server_capabilities.textDocumentSync.change

  -- Edits as a user makes them; Neovim turns each into a didChange.
  vim.api.nvim_buf_set_text(bufnr, 1, 11, 1, 11, { "a" })
  vim.api.nvim_buf_set_text(bufnr, 1, 12, 1, 12, { " + b" })
  local emoji_line = "# 😀 emoji before the edit point: x"
  vim.api.nvim_buf_set_lines(bufnr, 2, 2, false, { "", emoji_line })
  -- Byte columns here; the bridge gets UTF-16 ones, where the emoji counts 2, not 4.
  vim.api.nvim_buf_set_text(bufnr, 3, #emoji_line - 1, 3, #emoji_line, { "y = 1" })
  vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { "import math" })
  vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, { "def mul(a, b):", "    return " })

  local uri = vim.uri_from_bufnr(bufnr)
  local doc = vim.lsp.buf_request_sync(bufnr, "codefill/document", { uri = uri }, 10000)
  result.bridge_text = doc[client_id].result.text
  result.buffer_lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)

  -- The cursor at the end of the last line, as in insert mode (a normal-mode
  -- cursor cannot go past the last character).
  local last = vim.api.nvim_buf_line_count(bufnr)
  local params = { textDocument = { uri = uri }, position = { line = last - 1, character = #"    return " } }
  local completion = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, 60000)
  result.completion = completion[client_id].result
  params.context = { triggerKind = 1 }
  local inline = vim.lsp.buf_request_sync(bufnr, "textDocument/inlineCompletion", params, 60000)
  result.inline = inline[client_id].result
  vim.lsp.stop_client(client_id)
end)
