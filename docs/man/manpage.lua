-- pandoc Lua filter: turn one of welld's Markdown documents into a man page.
-- The Markdown stays the only copy of the text; this filter only reshapes it.
-- Metadata (pandoc -M):
--   man_name, man_description  the NAME line: "man_name - man_description"
--   verb                      optional: keep only this verb of docs/welld.md
--                             (its Synopsis lines, its "## VERB" section, the
--                             exit codes), for the welld-VERB(1) pages
--   verbs                     comma-separated verb names: in a whole page,
--                             their "## VERB" sections go under COMMANDS
--   see_also                  comma-separated references, e.g. "welld(1)"
local stringify = pandoc.utils.stringify

-- Links to sibling documents become man page references.
local pages = {
  ["welld.md"] = "welld(1)", ["audit.md"] = "welld-audit(1)", ["interop.md"] = "welld-export(1)", ["daemonize.md"] = "daemonize(3)",
  ["library.md"] = "libwelld(3)",
}

local function meta_string(meta, key)
  return meta[key] and stringify(meta[key]) or nil
end

local function split(text)
  local out = {}
  for item in string.gmatch(text or "", "[^,]+") do table.insert(out, (item:gsub("^%s+", ""):gsub("%s+$", ""))) end
  return out
end

local function link(el)
  local base = el.target:match("([^/]+%.md)$") or el.target:match("([^/]+%.md)#")
  if base and pages[base] then
    local text = stringify(el.content)
    if text == pages[base] or text:match("%.md$") then return pandoc.Str(pages[base]) end
    local out = pandoc.List(el.content)
    out:insert(pandoc.Str(" (" .. pages[base] .. ")"))
    return out
  end
  if not el.target:match("^%a+:") then return el.content end  -- a path in the source tree
end

-- Tables become tagged paragraphs (.TP): tbl cannot wrap the long option
-- names and code spans of welld's tables into 80 columns ("cannot adjust
-- line"), and a list reads as well in a terminal. The first column is the
-- tag; with more than two columns each other cell is "HEADER: cell".
local function inlines_of(blocks)
  local out = pandoc.List()
  for i, b in ipairs(blocks) do
    if i > 1 then out:insert(pandoc.Space()) end
    if b.content then out:extend(b.content) end
  end
  return out
end

local function table_to_list(el)
  local t = pandoc.utils.to_simple_table(el)
  local items = {}
  for _, row in ipairs(t.rows) do
    local definition = {}
    if #row == 2 then
      definition = row[2]
    else
      for j = 2, #row do
        local para = pandoc.List({pandoc.Strong(inlines_of(t.headers[j])), pandoc.Str(":"), pandoc.Space()})
        para:extend(inlines_of(row[j]))
        table.insert(definition, pandoc.Plain(para))
        if j < #row then table.insert(definition, pandoc.Plain({pandoc.LineBreak()})) end
      end
    end
    table.insert(items, {inlines_of(row[1]), {definition}})
  end
  return pandoc.DefinitionList(items)
end

local function header(level, text) return pandoc.Header(level, pandoc.Str(text)) end

local function shifted(blocks, by)
  local out = {}
  for _, b in ipairs(blocks) do
    if b.t == "Header" then b.level = math.max(1, b.level - by) end
    table.insert(out, b)
  end
  return out
end

local function append(list, blocks) for _, b in ipairs(blocks) do table.insert(list, b) end end

function Pandoc(doc)
  doc = doc:walk({Link = link, Table = table_to_list})
  local meta = doc.meta
  local verb = meta_string(meta, "verb")
  local preamble, sections, current = {}, {}, nil
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" and b.level == 1 then
      -- the document's title: the man page has its own
    elseif b.t == "Header" and b.level == 2 then
      current = {title = stringify(b), blocks = {}}
      table.insert(sections, current)
    elseif current then
      table.insert(current.blocks, b)
    else
      table.insert(preamble, b)
    end
  end
  local function section(title)
    for _, s in ipairs(sections) do if s.title:lower() == title:lower() then return s end end
    return nil
  end

  local out = {header(1, "NAME"),
               pandoc.Para({pandoc.Str(meta_string(meta, "man_name") .. " - " .. meta_string(meta, "man_description"))})}
  if verb then
    local synopsis = section("Synopsis")
    local lines = {}
    for _, b in ipairs(synopsis and synopsis.blocks or {}) do
      if b.t == "CodeBlock" then
        for line in (b.text .. "\n"):gmatch("(.-)\n") do
          if line:match("^%s*welld%s+" .. verb .. "%s") or line:match("^%s*welld%s+" .. verb .. "$") then
            table.insert(lines, (line:gsub("^%s+", "")))
          end
        end
      end
    end
    table.insert(out, header(1, "SYNOPSIS"))
    table.insert(out, pandoc.CodeBlock(table.concat(lines, "\n")))
    local body = section(verb)
    assert(body, "docs/welld.md has no '## " .. verb .. "' section")
    table.insert(out, header(1, "DESCRIPTION"))
    append(out, shifted(body.blocks, 1))
    local codes = section("Exit codes of " .. verb) or section("Exit codes")
    if codes then
      table.insert(out, header(1, "EXIT STATUS"))
      append(out, shifted(codes.blocks, 1))
    end
  else
    local verbs = {}
    for _, v in ipairs(split(meta_string(meta, "verbs"))) do verbs[v] = true end
    -- A leading code block is the synopsis, the rest of the preamble the description.
    local i = 1
    if preamble[1] and preamble[1].t == "CodeBlock" then
      table.insert(out, header(1, "SYNOPSIS"))
      while preamble[i] and preamble[i].t == "CodeBlock" do
        table.insert(out, preamble[i])
        i = i + 1
      end
    end
    if preamble[i] then
      table.insert(out, header(1, "DESCRIPTION"))
      for j = i, #preamble do table.insert(out, preamble[j]) end
    end
    local commands_started = false
    for _, s in ipairs(sections) do
      if verbs[s.title] then
        if not commands_started then
          table.insert(out, header(1, "COMMANDS"))
          commands_started = true
        end
        table.insert(out, header(2, "welld " .. s.title))
        append(out, s.blocks)  -- ### headers stay at level 2 under COMMANDS
      elseif s.title:lower() ~= "see also" then
        table.insert(out, header(1, s.title:upper()))
        append(out, shifted(s.blocks, 1))
      end
    end
  end
  local see_also = split(meta_string(meta, "see_also"))
  if #see_also > 0 then
    table.insert(out, header(1, "SEE ALSO"))
    table.insert(out, pandoc.Para({pandoc.Str(table.concat(see_also, ", "))}))
  end
  return pandoc.Pandoc(out, meta)
end
