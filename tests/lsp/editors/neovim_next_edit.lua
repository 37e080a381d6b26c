-- Next edits from a real editor: Neovim (0.7 or newer) headless starts
-- `codefill lsp`, edits two buffers (Neovim sends its own didChange), asks
-- for the next edit with textDocument/copilotInlineEdit as the copilot-lsp
-- plugin does, applies the first edit the way that plugin does
-- (vim.lsp.util.apply_text_edits with `newText` = `text`), reports it shown
-- and accepted, and writes what it saw as JSON for the test to check.
--
--   CODEFILL_CMD, CODEFILL_SERVER, CODEFILL_DIR, CODEFILL_OUT   as in neovim_smoke.lua
--
-- Run: nvim --headless --clean -c "luafile neovim_next_edit.lua"

local run = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "neovim_common.lua")
local dir = assert(os.getenv("CODEFILL_DIR"))
local result = {}

local function request(bufnr, client_id, method, params)
  local answer = vim.lsp.buf_request_sync(bufnr, method, params, 120000)
  assert(answer and answer[client_id], method .. " got no answer")
  assert(answer[client_id].err == nil, method .. ": " .. vim.inspect(answer[client_id].err))
  return answer[client_id].result
end

run(result, function()
  vim.o.hidden = true
  local cmd = vim.split(assert(os.getenv("CODEFILL_CMD")), " ", { trimempty = true })
  vim.list_extend(cmd, { "--server-url", assert(os.getenv("CODEFILL_SERVER")) })
  local client_id = vim.lsp.start_client({
    name = "codefill",
    cmd = cmd,
    root_dir = dir,
    init_options = { codefill = { timeoutMs = 120000, prewarm = false, nextEditMaxTokens = 96 } },
    -- Every change sent as it is made (0.7 batches them for 150 ms by default,
    -- and flushes only the asking buffer's before a request).
    flags = { debounce_text_changes = 0 },
  })

  local function open(name, lines)
    vim.cmd("edit " .. dir .. "/" .. name)
    local bufnr = vim.api.nvim_get_current_buf()
    vim.bo[bufnr].filetype = "python"
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
    vim.lsp.buf_attach_client(bufnr, client_id)
    return bufnr
  end

  local caller = open("caller.py", { "from shapes import area", "", "print(area(2))" })
  local bufnr = open("shapes.py", { "import math", "", "def area(r):", "    return math.pi * r * r", "",
                                    "def ring(r, width):", "    return area(r) - area(r - width)" })
  assert(vim.wait(30000, function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized
  end, 50), "the bridge did not initialize")
  local client = vim.lsp.get_client_by_id(client_id)

  -- The user's edits: a call changed in caller.py, then the parameter renamed in shapes.py.
  vim.api.nvim_buf_set_text(caller, 2, 11, 2, 12, { "3" })
  vim.api.nvim_buf_set_text(bufnr, 2, 9, 2, 10, { "" })
  vim.api.nvim_buf_set_text(bufnr, 2, 9, 2, 9, { "rad" })
  vim.api.nvim_buf_set_text(bufnr, 2, 12, 2, 12, { "ius" })

  -- As copilot-lsp asks: make_position_params plus the buffer's version.
  vim.api.nvim_win_set_cursor(0, { 3, 15 })
  local params = vim.lsp.util.make_position_params()
  params.textDocument.version = vim.lsp.util.buf_versions[bufnr]
  result.version = params.textDocument.version
  result.uri = params.textDocument.uri
  result.answer = request(bufnr, client_id, "textDocument/copilotInlineEdit", params)
  result.sent = request(bufnr, client_id, "codefill/lastNextEdit", {})

  local edit = result.answer.edits[1]
  if edit ~= nil then
    edit.newText = edit.text
    vim.lsp.util.apply_text_edits({ edit }, bufnr, "utf-16")
    client.notify("textDocument/didShowInlineEdit", { item = { command = edit.command } })
    request(bufnr, client_id, "workspace/executeCommand",
            { command = edit.command.command, arguments = edit.command.arguments })
  end
  result.buffer_lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  result.bridge_text = request(bufnr, client_id, "codefill/document", { uri = result.uri }).text
  result.status = request(bufnr, client_id, "codefill/status", {})
  vim.lsp.stop_client(client_id)
end)
