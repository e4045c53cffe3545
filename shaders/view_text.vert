#version 330 core
// One instanced quad per glyph of the HUD's bitmap font (game/font.py): per instance its top-left
// in pixels and its index in the atlas; u_screen maps pixels (y down) to NDC.

uniform vec2 u_screen;   // framebuffer width, height
uniform vec2 u_cell;     // glyph cell width, height in atlas pixels
uniform float u_scale;
uniform int u_columns;   // glyph cells per atlas row

in vec3 in_glyph;        // x, y, index
out vec2 v_texel;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    int index = int(in_glyph.z);
    vec2 origin = vec2(float(index % u_columns), float(index / u_columns)) * u_cell;
    v_texel = origin + corner * u_cell;
    vec2 pixel = in_glyph.xy + corner * u_cell * u_scale;
    gl_Position = vec4(pixel / u_screen * vec2(2.0, -2.0) + vec2(-1.0, 1.0), 0.0, 1.0);
}
