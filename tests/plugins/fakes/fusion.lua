-- A fake Fusion composition for the Lua script's tests, with exactly the calls "VHMAE Harmonize.lua" makes
-- (the same calls as the Python fake in resolve.py): Composition GetToolList/GetAttrs/AddTool/Render/AskUser/
-- Lock/Unlock/StartUndo/EndUndo; Operator GetAttrs/SetAttrs/SetInput/ConnectInput/Delete; Output
-- GetConnectedInputs; Input ConnectTo. Rendering copies the source Loader's EXR frames byte for byte (a Loader's
-- fake-only `pattern` names its sequence), so the job sees real files.

local fake = { calls = {} }

local function record(kind, name, detail)
  fake.calls[#fake.calls + 1] = kind .. "." .. name .. (detail and (" " .. tostring(detail)) or "")
end

local Output, Input, Tool, Comp = {}, {}, {}, {}
Output.__index, Input.__index, Tool.__index, Comp.__index = Output, Input, Tool, Comp

function Output:GetConnectedInputs()
  record("Output", "GetConnectedInputs")
  local found, n = {}, 0
  for _, tool in ipairs(self.tool.comp.tools) do
    for _, input in pairs(tool.inputs) do
      if input.source == self then n = n + 1; found[n] = input end
    end
  end
  return found
end

function Input:ConnectTo(out)
  record("Input", "ConnectTo", out and out.tool.name)
  self.source = out
  return true
end

local function new_tool(comp, reg_id, name)
  local tool = setmetatable({ comp = comp, reg_id = reg_id, name = name, values = {}, attrs = { TOOLB_PassThrough = false },
                              inputs = {}, deleted = false }, Tool)
  tool.Output = setmetatable({ tool = tool }, Output)
  comp.tools[#comp.tools + 1] = tool
  return tool
end

function Tool:GetAttrs()
  local attrs = { TOOLS_RegID = self.reg_id, TOOLS_Name = self.name }
  for k, v in pairs(self.attrs) do attrs[k] = v end
  return attrs
end

function Tool:SetAttrs(attrs)
  record("Tool", "SetAttrs")
  for k, v in pairs(attrs) do
    if k == "TOOLS_Name" then self.name = v else self.attrs[k] = v end
  end
end

function Tool:SetInput(name, value)
  record("Tool", "SetInput", name)
  self.values[name] = value
end

function Tool:ConnectInput(name, target)
  record("Tool", "ConnectInput", name)
  local input = self.inputs[name] or setmetatable({ tool = self, name = name }, Input)
  input.source = getmetatable(target) == Tool and target.Output or target
  self.inputs[name] = input
  return true
end

function Tool:Delete()
  record("Tool", "Delete", self.name)
  self.deleted = true
  for i, tool in ipairs(self.comp.tools) do
    if tool == self then table.remove(self.comp.tools, i) break end
  end
end

-- Fake-only: the file holding frame `frame` of what this tool outputs.
function Tool:frame_file(frame)
  if self.pattern then return string.format(self.pattern, frame) end
  local input = self.inputs.Input
  assert(input and input.source, self.name .. " has nothing connected")
  return input.source.tool:frame_file(frame)
end

function Comp:GetToolList(selected, regid)
  local list, n = {}, 0
  for _, tool in ipairs(selected and self.selected or self.tools) do
    if regid == nil or tool.reg_id == regid then n = n + 1; list[n] = tool end
  end
  return list
end

function Comp:GetAttrs()
  return { COMPN_RenderStart = self.render_start, COMPN_RenderEnd = self.render_end }
end

function Comp:AddTool(id)
  record("Composition", "AddTool", id)
  local count = 1
  for _, tool in ipairs(self.tools) do if tool.reg_id == id then count = count + 1 end end
  return new_tool(self, id, id .. count)
end

function Comp:Render(args)
  record("Composition", "Render")
  for _, saver in ipairs(self.tools) do
    if saver.reg_id == "Saver" and not saver.attrs.TOOLB_PassThrough then
      local stem, ext = saver.values.Clip:match("^(.*)(%.[^%.]+)$")
      for frame = args.Start, args.End do
        local src = assert(io.open(saver:frame_file(frame), "rb"))
        local bytes = src:read("*a")
        src:close()
        local dst = assert(io.open(string.format("%s%04d%s", stem, frame, ext), "wb"))
        dst:write(bytes)
        dst:close()
      end
    end
  end
  return true
end

function Comp:AskUser(title, controls)
  record("Composition", "AskUser", title)
  if self.answer == nil then return nil end
  local out = {}
  for _, control in ipairs(controls) do
    local key = control[1]
    if self.answer[key] ~= nil then out[key] = self.answer[key] else out[key] = control.Default end
  end
  return out
end

function Comp:Lock() self.locked = self.locked + 1 end
function Comp:Unlock() self.locked = self.locked - 1 end
function Comp:StartUndo() self.undo_open = true end
function Comp:EndUndo() self.undo_open = false end

-- Fake-only constructors.
function fake.composition(render_start, render_end, answer)
  return setmetatable({ tools = {}, selected = {}, render_start = render_start, render_end = render_end,
                        answer = answer, locked = 0, undo_open = false }, Comp)
end

function fake.add_existing(comp, reg_id, name, pattern)
  local tool = new_tool(comp, reg_id, name)
  tool.pattern = pattern
  if pattern then tool.values.Clip = string.format(pattern, comp.render_start) end
  return tool
end

return fake
