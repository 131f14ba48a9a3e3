use gpt2lab::prelude::*;
gpt2lab::notebook::kernel_init();
// Turn on evcxr's `?` support now: evcxr enables it when a cell first uses `?`, and that
// cell's last-line value then shows as plain text instead of rendering.
Ok::<(), String>(())?;
