//! `vigil lsp` in a real editor: headless Neovim opens a broken example,
//! attaches `vigil lsp`, and reports what `vim.diagnostic.get()` holds;
//! then fixes the line in the buffer and reports again.
//!
//! Needs Debian's `neovim` (0.7 or later; `run-tests` installs it). Where
//! `nvim` is missing the test says so and passes without running.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::lsp_client::temp_dir;

const SCRIPT: &str = r#"
local file, out, vigil, root = os.getenv('VIGIL_FILE'), os.getenv('VIGIL_OUT'),
  os.getenv('VIGIL_BIN'), os.getenv('VIGIL_ROOT')
local report = {}
local function dump(tag, buf)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(report, string.format('%s %d:%d %s %s %s', tag, d.lnum, d.col,
      tostring(d.code), tostring(d.severity), (d.message:gsub('\n.*', ''))))
  end
  table.insert(report, tag .. ' end')
end
vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({ name = 'vigil', cmd = { vigil, 'lsp' }, root_dir = root })
if not id then
  table.insert(report, 'start_client failed')
else
  vim.lsp.buf_attach_client(buf, id)
  vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  dump('broken', buf)
  -- Fix the second `vrid = 51` (router api) in the buffer, unsaved.
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local seen = 0
  for i, line in ipairs(lines) do
    if line == 'vrid = 51' then
      seen = seen + 1
      if seen == 2 then
        vim.api.nvim_buf_set_lines(buf, i - 1, i, false, { 'vrid = 52' })
      end
    end
  end
  vim.wait(20000, function() return #vim.diagnostic.get(buf) == 0 end, 20)
  dump('fixed', buf)
  vim.lsp.stop_client(id)
end
local f = io.open(out, 'w')
f:write(table.concat(report, '\n') .. '\n')
f:close()
vim.cmd('qa!')
"#;

fn nvim_available() -> bool {
    Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn neovim_shows_the_vrid_collision_on_its_line_and_clears_it_after_an_edit() {
    if !nvim_available() {
        eprintln!(
            "SKIPPED: `nvim` is not installed (Debian package `neovim`); \
             the real-editor test of `vigil lsp` did not run"
        );
        return;
    }
    let dir = temp_dir("vigil-lsp-neovim");
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/broken/vrid-collision.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let file = dir.join("vrid-collision.toml");
    std::fs::write(&file, &text).unwrap();
    // The second `vrid = 51` (router `api`) is the one reported, 0-based.
    let expected_line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "vrid = 51")
        .nth(1)
        .map(|(i, _)| i)
        .expect("the example has two `vrid = 51` lines");
    let script = dir.join("test.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = dir.join("report.txt");
    let mut child = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("VIGIL_FILE", &file)
        .env("VIGIL_OUT", &out)
        .env("VIGIL_BIN", env!("CARGO_BIN_EXE_vigil"))
        .env("VIGIL_ROOT", &dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nvim");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nvim did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let report = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("nvim ({status}) wrote no report: {e}"));
    let lines: Vec<&str> = report.lines().collect();
    let broken: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("broken "))
        .collect();
    // vim.diagnostic severity 1 is ERROR; the column is the `51` after `vrid = `.
    let want = format!(
        "{expected_line}:7 V0101 1 routers `www` and `api` both use VRID 51 on segment `front` (IPv4): \
         each master discards the other's adverts and you get two masters"
    );
    assert_eq!(broken, [want.as_str(), "end"], "report:\n{report}");
    let fixed: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("fixed "))
        .collect();
    assert_eq!(fixed, ["end"], "report:\n{report}");
}
