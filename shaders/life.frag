#version 330 core
// One generation of a Life-like rule (outer-totalistic, Moore neighbourhood) on a torus.
//
// The state is an R8UI texture holding 0 or 1 per cell; one fragment is one cell. Rendering to an
// R8UI attachment of the same size writes the next generation (ping-pong between two textures).
// Plain GLSL 3.30 with texelFetch so the same path runs on macOS's GL 4.1 core (no compute).

uniform usampler2D u_state;
// Bit k set: k live neighbours give birth (dead cell) / let a live cell survive. Rule.birth_mask and
// Rule.survive_mask; a B0 rule works unchanged because bit 0 is looked up like any other count.
uniform uint u_birth;
uniform uint u_survive;

layout(location = 0) out uint f_state;

void main() {
    ivec2 size = textureSize(u_state, 0);
    // The viewport equals the texture size, so fragment centres (x + 0.5) truncate to the cell index.
    ivec2 cell = ivec2(gl_FragCoord.xy);

    // Torus wrap with selects, not %: integer division is slow (scalarised on CPU rasterisers) and
    // % is undefined for negative operands in GLSL. Sizes need not be powers of two. On a side of
    // 1 or 2 the previous and next index coincide (or equal the cell itself), so a neighbour is
    // counted more than once, which is exactly what np.roll does in the reference.
    int xm = (cell.x == 0) ? size.x - 1 : cell.x - 1;
    int xp = (cell.x == size.x - 1) ? 0 : cell.x + 1;
    int ym = (cell.y == 0) ? size.y - 1 : cell.y - 1;
    int yp = (cell.y == size.y - 1) ? 0 : cell.y + 1;

    uint neighbours = texelFetch(u_state, ivec2(xm, ym), 0).r
                    + texelFetch(u_state, ivec2(cell.x, ym), 0).r
                    + texelFetch(u_state, ivec2(xp, ym), 0).r
                    + texelFetch(u_state, ivec2(xm, cell.y), 0).r
                    + texelFetch(u_state, ivec2(xp, cell.y), 0).r
                    + texelFetch(u_state, ivec2(xm, yp), 0).r
                    + texelFetch(u_state, ivec2(cell.x, yp), 0).r
                    + texelFetch(u_state, ivec2(xp, yp), 0).r;

    uint alive = texelFetch(u_state, cell, 0).r;
    uint mask = (alive != 0u) ? u_survive : u_birth;
    f_state = (mask >> neighbours) & 1u;
}
