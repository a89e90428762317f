-- VHMAE Harmonize for the Fusion page of DaVinci Resolve (free and Studio) and Fusion Studio, in Lua.
--
-- Resolve's free edition runs Lua scripts only (from 21.1 its Python scripting needs Studio), so this script does
-- what "VHMAE Harmonize.py" does without Python in the host: select the plate (a MediaIn or Loader) and,
-- optionally, a tool whose alpha is the matte, then run Workspace > Scripts > Comp > VHMAE Harmonize. It renders
-- the comp's render range through a temporary Saver to float EXR, runs the job out of process in the Python of a
-- vh installation (python -m vh.client.host_job_cli, which talks to vh-server), prints its progress lines to the
-- console, and adds a Loader on the result wired into everything the plate fed (one undo step).
--
-- The vh installation: $VH_PYTHON, else "python" in ~/.vh/host.json (written by plugins/resolve/install.py).
-- Cancel: create the file named in the console ("to cancel, create ..."); the job stops cleanly, keeping nothing.
-- Settings: VH_SERVER, VH_MODEL, VH_OCIO, VH_COLORSPACE, VH_CACHE_DIR as for the Python scripts.
-- Lua 5.1 (Fusion's LuaJIT); Fusion calls: Composition GetToolList/GetAttrs/AddTool/Render/AskUser/Lock/Unlock/
-- StartUndo/EndUndo, Operator GetAttrs/SetAttrs/SetInput/ConnectInput/Delete, Output GetConnectedInputs,
-- Input ConnectTo.

local vh = {}

vh.STUDIO_CONFIG = "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4"
vh.DEFAULT_COLORSPACE = "Linear Rec.709 (sRGB)"
vh.PLATE_TOOLS = { MediaIn = true, Loader = true }
vh.SEP = package.config:sub(1, 1)
vh.WINDOWS = vh.SEP == "\\"

local function env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then return default end
  return value
end

local function home()
  return env("HOME", env("USERPROFILE", "."))
end

local function join(...)
  return table.concat({ ... }, vh.SEP)
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- JSON, as much as the job needs: encode flat tables of strings/numbers/booleans; read fields of one object.
local function json_string(s)
  s = s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

function vh.json_encode(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    local out
    if type(v) == "string" then out = json_string(v)
    elseif type(v) == "number" then out = (v == math.floor(v)) and string.format("%d", v) or string.format("%.17g", v)
    elseif type(v) == "boolean" then out = tostring(v)
    elseif type(v) == "table" then out = vh.json_encode(v)
    end
    if out then parts[#parts + 1] = json_string(k) .. ": " .. out end
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function json_unescape(s)
  return (s:gsub("\\(u%x%x%x%x)", function(u)
    local n = tonumber(u:sub(2), 16)
    return n < 128 and string.char(n) or "?"
  end):gsub("\\(.)", { n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }))
end

-- The string or number value of `key` in one JSON line (the job's events are flat objects).
function vh.json_field(line, key)
  if line:match('"' .. key .. '"%s*:%s*""') then return "" end
  local s = line:match('"' .. key .. '"%s*:%s*"(.-[^\\])"')
  if s then return json_unescape(s) end
  local n = line:match('"' .. key .. '"%s*:%s*(-?[%d%.eE+-]+)')
  return n and tonumber(n) or nil
end

function vh.python()
  local python = env("VH_PYTHON", nil)
  if python then return python end
  local f = io.open(join(home(), ".vh", "host.json"), "r")
  if f then
    local text = f:read("*a")
    f:close()
    python = vh.json_field(text, "python")
    if python and python ~= "" then return python end
  end
  local venv = vh.WINDOWS and join(home(), ".vh", "venv", "Scripts", "python.exe") or join(home(), ".vh", "venv", "bin", "python")
  if file_exists(venv) then return venv end
  return nil
end

function vh.cache_root()
  return env("VH_CACHE_DIR", join(home(), ".cache", "vh", "resolve"))
end

local function quote(arg)
  if vh.WINDOWS then return '"' .. arg:gsub('"', '\\"') .. '"' end
  return "'" .. arg:gsub("'", "'\\''") .. "'"
end

-- Run `job` out of process; calls log(message) per progress line. Returns the result pattern, or nil and the
-- one-line error ("cancelled: no result kept" when cancelled).
function vh.run_job(job, cache_root, work, log)
  local python = vh.python()
  if not python then
    return nil, "no vh installation configured: install vh with Python 3.10+ and set VH_PYTHON (or run plugins/resolve/install.py)"
  end
  if not file_exists(python) then
    return nil, "the configured vh Python " .. python .. " does not exist"
  end
  local job_file, cancel_file = join(work, "job.json"), join(work, "cancel")
  local f = assert(io.open(job_file, "w"))
  f:write(vh.json_encode(job), "\n")
  f:close()
  log("to cancel, create " .. cancel_file)
  local command = table.concat({ quote(python), "-m", "vh.client.host_job_cli", "run", "--cache-root", quote(cache_root),
                                 "--job", quote(job_file), "--cancel-file", quote(cancel_file) }, " ") .. " 2>&1"
  if vh.WINDOWS then command = '"' .. command .. '"' end  -- cmd.exe strips one pair of outer quotes
  local pipe = io.popen(command, "r")
  if not pipe then return nil, "cannot start " .. python end
  local result, err, last = nil, nil, ""
  for line in pipe:lines() do
    local event = vh.json_field(line, "event")
    if event == "progress" then log(vh.json_field(line, "message") or "")
    elseif event == "result" then result = vh.json_field(line, "pattern")
    elseif event == "error" then err = vh.json_field(line, "message")
    elseif event == "cancelled" then err = "cancelled: no result kept"
    elseif line:match("%S") then last = line
    end
  end
  pipe:close()
  if result then return result end
  return nil, err or ("the vh job ended without a result: " .. last)
end

local function reg_id(tool)
  return tool:GetAttrs().TOOLS_RegID
end

function vh.selected_plate_and_matte(comp)
  local plate, matte
  for _, tool in pairs(comp:GetToolList(true) or {}) do
    if plate == nil and vh.PLATE_TOOLS[reg_id(tool)] then plate = tool
    elseif matte == nil then matte = tool
    end
  end
  if matte == plate then matte = nil end
  return plate, matte
end

function vh.render_to_exr(comp, tool, folder, name, first, last)
  local saver = comp:AddTool("Saver", -32768, -32768)
  local muted = {}
  local ok, err = pcall(function()
    saver:SetInput("Clip", join(folder, name .. "_.exr"))
    saver:SetInput("OutputFormat", "OpenEXRFormat")
    saver:SetInput("OpenEXRFormat.Depth", 2)  -- float
    saver:ConnectInput("Input", tool)
    for _, other in pairs(comp:GetToolList(false, "Saver") or {}) do
      if other ~= saver and not other:GetAttrs().TOOLB_PassThrough then
        other:SetAttrs({ TOOLB_PassThrough = true })  -- render only our Saver
        muted[#muted + 1] = other
      end
    end
    if not comp:Render({ Start = first, End = last, Wait = true }) then
      error("the Fusion render of " .. tool:GetAttrs().TOOLS_Name .. " failed; see the console", 0)
    end
  end)
  for _, other in ipairs(muted) do other:SetAttrs({ TOOLB_PassThrough = false }) end
  saver:Delete()
  if not ok then return nil, err end
  return join(folder, name .. "_%04d.exr")
end

function vh.add_result_loader(comp, plate, pattern, first)
  comp:StartUndo("VHMAE Harmonize")
  comp:Lock()
  local loader = comp:AddTool("Loader", -32768, -32768)
  loader:SetInput("Clip", string.format(pattern, first))
  loader:SetInput("GlobalIn", first)
  for _, target in pairs(plate.Output:GetConnectedInputs() or {}) do
    target:ConnectTo(loader.Output)
  end
  loader:SetAttrs({ TOOLS_Name = "VHMAE_Harmonized" })
  comp:Unlock()
  comp:EndUndo(true)
  return loader
end

local function remove_tree(folder)
  if vh.WINDOWS then os.execute('rmdir /s /q "' .. folder .. '"') else os.execute("rm -rf " .. quote(folder)) end
end

local function make_work_dir()
  local base = os.tmpname()
  os.remove(base)
  local folder = base .. "-vh-fusion"
  if vh.WINDOWS then os.execute('mkdir "' .. folder .. '"') else os.execute("mkdir -p " .. quote(folder)) end
  return folder
end

-- The whole job on `comp`; returns the new Loader, or nil (the reason logged as one line).
function vh.main(comp, options)
  options = options or {}
  local log = options.log or function(message) print("[vh] " .. message) end
  local server, model, strength = options.server or env("VH_SERVER", "127.0.0.1:50051"), options.model or env("VH_MODEL", ""), options.strength or 1.0
  local plate, matte = vh.selected_plate_and_matte(comp)
  if not plate then
    log("error: select the plate (a MediaIn or Loader) and, optionally, a matte tool, then run again")
    return nil
  end
  if options.ask ~= false then
    local answer = comp:AskUser("VHMAE Harmonize", {
      { "server", "Text", Name = "vh-server address", Default = server, Lines = 1 },
      { "model", "Text", Name = "model (empty = server default)", Default = model, Lines = 1 },
      { "strength", "Slider", Name = "strength", Default = 1.0, Min = 0.0, Max = 1.0 },
    })
    if answer == nil then return nil end
    server, model, strength = answer.server, answer.model, tonumber(answer.strength)
  end
  local attrs = comp:GetAttrs()
  local first, last = math.floor(attrs.COMPN_RenderStart), math.floor(attrs.COMPN_RenderEnd)
  local folder = make_work_dir()
  log(string.format("rendering frames %d-%d to EXR...", first, last))
  local plate_pattern, err = vh.render_to_exr(comp, plate, folder, "plate", first, last)
  local matte_pattern
  if plate_pattern and matte then matte_pattern, err = vh.render_to_exr(comp, matte, folder, "matte", first, last) end
  local result
  if plate_pattern and (matte == nil or matte_pattern) then
    local job = { server = server, plate = plate_pattern, matte = matte_pattern, first = first, last = last,
                  model = model, strength = strength, colorspace = env("VH_COLORSPACE", vh.DEFAULT_COLORSPACE),
                  ocio_config = env("VH_OCIO", vh.STUDIO_CONFIG), client_name = "Fusion / VHMAE Harmonize.lua" }
    result, err = vh.run_job(job, options.cache_root or vh.cache_root(), folder, log)
  end
  remove_tree(folder)
  if not result then
    log(err:match("^cancelled") and err or ("error: " .. err))
    return nil
  end
  return vh.add_result_loader(comp, plate, result, first)
end

if VH_LIBRARY then return vh end  -- loaded by a test or another script: no side effects
vh.main(comp or fusion:GetCurrentComp())  -- luacheck: globals comp fusion
