//! `report.png`: the devnet's master validation loss per window and each miner's incentive,
//! drawn straight into pixels (an 8x8 bitmap font for the labels) so the report needs no
//! plotting stack.

use std::path::Path;

use anyhow::{Context, Result};
use font8x8::UnicodeFonts;

const WIDTH: usize = 960;
const HEIGHT: usize = 720;
type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const LOSS: Rgb = [31, 119, 180];
const HONEST: Rgb = [44, 160, 44];
const HOSTILE: Rgb = [214, 39, 40];

struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            pixels: WHITE.repeat(WIDTH * HEIGHT),
        }
    }

    fn set(&mut self, x: i64, y: i64, color: Rgb) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let i = (y as usize * WIDTH + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&color);
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, color: Rgb) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, color);
            }
        }
    }

    /// A line `width` pixels thick.
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), width: i64, color: Rgb) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            let (x, y) = (x.round() as i64, y.round() as i64);
            self.rect(
                x - width / 2,
                y - width / 2,
                x + width / 2,
                y + width / 2,
                color,
            );
        }
    }

    /// Text with its top-left corner at (x, y), each font pixel `scale` pixels wide.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, color: Rgb) {
        for (i, c) in text.chars().enumerate() {
            let Some(glyph) = font8x8::BASIC_FONTS.get(c) else {
                continue;
            };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let (px, py) = (x + (i as i64 * 8 + col) * scale, y + row as i64 * scale);
                        self.rect(px, py, px + scale - 1, py + scale - 1, color);
                    }
                }
            }
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        let file =
            std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
        let mut encoder =
            png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(())
    }
}

/// Draws `losses` (one per window) over `incentives` ((name, incentive, hostile) per miner).
pub fn report_png(path: &Path, losses: &[f64], incentives: &[(String, f64, bool)]) -> Result<()> {
    let mut c = Canvas::new();
    // Top panel: the master's validation loss per window.
    let (left, right, top, bottom) = (90.0, WIDTH as f64 - 30.0, 60.0, 330.0);
    c.text(30, 16, "master validation loss per window", 2, INK);
    let (lo, hi) = losses
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &l| {
            (lo.min(l), hi.max(l))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        let pad = (hi - lo) * 0.1;
        (lo - pad, hi + pad)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let y = bottom - (v - lo) / (hi - lo) * (bottom - top);
        c.line((left, y), (right, y), 1, GRID);
        c.text(8, y as i64 - 4, &format!("{v:.3}"), 1, INK);
    }
    c.line((left, top), (left, bottom), 2, INK);
    c.line((left, bottom), (right, bottom), 2, INK);
    let n = losses.len().max(2) - 1;
    let point = |i: usize, l: f64| {
        (
            left + 20.0 + (right - left - 40.0) * i as f64 / n as f64,
            bottom - (l - lo) / (hi - lo) * (bottom - top),
        )
    };
    for (i, pair) in losses.windows(2).enumerate() {
        c.line(point(i, pair[0]), point(i + 1, pair[1]), 3, LOSS);
    }
    for (i, &l) in losses.iter().enumerate() {
        let (x, y) = point(i, l);
        c.rect(x as i64 - 4, y as i64 - 4, x as i64 + 4, y as i64 + 4, LOSS);
        c.text(x as i64 - 4, bottom as i64 + 8, &i.to_string(), 1, INK);
    }
    c.text(right as i64 - 48, bottom as i64 + 20, "window", 1, INK);

    // Bottom panel: incentive per miner, honest in green, hostile in red.
    let (top, bottom) = (420.0, HEIGHT as f64 - 90.0);
    c.text(
        30,
        376,
        "incentive per miner (green: honest, red: hostile)",
        2,
        INK,
    );
    for k in 0..=4 {
        let v = k as f64 / 4.0;
        let y = bottom - v * (bottom - top);
        c.line((left, y), (right, y), 1, GRID);
        c.text(40, y as i64 - 4, &format!("{v:.2}"), 1, INK);
    }
    c.line((left, top), (left, bottom), 2, INK);
    c.line((left, bottom), (right, bottom), 2, INK);
    let slot = (right - left) / incentives.len().max(1) as f64;
    for (i, (name, incentive, hostile)) in incentives.iter().enumerate() {
        let x0 = left + slot * i as f64 + slot * 0.2;
        let x1 = left + slot * (i as f64 + 1.0) - slot * 0.2;
        let y = bottom - incentive.clamp(0.0, 1.0) * (bottom - top);
        let color = if *hostile { HOSTILE } else { HONEST };
        c.rect(x0 as i64, y as i64, x1 as i64, bottom as i64 - 1, color);
        let label: String = name.chars().take((slot / 8.0) as usize).collect();
        c.text(x0 as i64, bottom as i64 + 8, &label, 1, INK);
        c.text(x0 as i64, y as i64 - 12, &format!("{incentive:.2}"), 1, INK);
    }
    c.save(path)
}
