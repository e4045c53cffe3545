#version 330 core
// One pass for the substrate: live cells, the energy heatmap under them, and the mesh's tile
// borders in each bot's state colour. texelFetch on the cell index keeps every cell a crisp
// square at any zoom (nearest, never interpolated).

uniform usampler2D u_cells;   // R8UI, texel (x, y) = lattice[y][x], 0 or 1
uniform sampler2D u_energy;   // R32F, same size: the energy field
uniform sampler2D u_bots;     // RGBA8, cols x rows: a bot's state colour (alpha 0: no bots)
uniform bool u_energy_on;
uniform float u_energy_max;   // the field's maximum now, for the colour scale
uniform float u_tile;         // cells per tile side
uniform float u_px;           // screen pixels per cell (the zoom)

in vec2 v_world;
out vec4 f_colour;

// The dashboard's palette (web/static/draw.js): #0d1117 dead, #e6edf3 live, #8b949e grid.
const vec3 DEAD = vec3(0.051, 0.067, 0.090);
const vec3 LIVE = vec3(0.902, 0.929, 0.953);
const vec3 GRID = vec3(0.20, 0.22, 0.25);

// A perceptual-ish heat ramp: dark red -> orange -> pale yellow.
vec3 heat(float t) {
    return clamp(vec3(1.6 * t + 0.15, 1.3 * t - 0.25, 2.2 * t - 1.3), 0.0, 1.0);
}

void main() {
    ivec2 size = textureSize(u_cells, 0);
    ivec2 cell = clamp(ivec2(floor(v_world)), ivec2(0), size - 1);
    vec3 colour = DEAD;
    bool alive = texelFetch(u_cells, cell, 0).r != 0u;
    if (u_energy_on) {
        float e = texelFetch(u_energy, cell, 0).r / max(u_energy_max, 1e-9);
        colour = mix(DEAD, heat(e), clamp(sqrt(e), 0.0, 1.0));
    }
    if (alive) {
        colour = LIVE;
    }
    // Faint cell grid once cells are big enough to tell apart.
    if (u_px >= 8.0) {
        vec2 edge = fract(v_world) * u_px;
        if (min(edge.x, edge.y) < 1.0) {
            colour = mix(colour, GRID, 0.35);
        }
    }
    // Tile borders: distance in pixels to the nearest edge of this tile. A live cell under a
    // border stays bright (tinted), so the border never hides the lattice.
    vec2 t = v_world / u_tile;
    ivec2 tile = ivec2(floor(t));
    vec2 near = fract(t) * u_tile * u_px;
    vec2 far = (1.0 - fract(t)) * u_tile * u_px;
    float d = min(min(near.x, near.y), min(far.x, far.y));
    float width = min(clamp(u_tile * u_px * 0.05, 1.0, 3.0), max(1.0, 0.4 * u_px));
    if (d < width) {
        vec4 bot = texelFetch(u_bots, tile, 0);
        vec3 border = mix(GRID, bot.rgb, bot.a);
        colour = alive ? mix(LIVE, border, 0.3) : border;
    }
    f_colour = vec4(colour, 1.0);
}
