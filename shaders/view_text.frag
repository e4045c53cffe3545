#version 330 core
// Glyph coverage from the atlas as alpha; texelFetch keeps the 1:1 font crisp.

uniform sampler2D u_atlas;   // R8: coverage
uniform vec4 u_colour;

in vec2 v_texel;
out vec4 f_colour;

void main() {
    float coverage = texelFetch(u_atlas, ivec2(v_texel), 0).r;
    f_colour = vec4(u_colour.rgb, u_colour.a * coverage);
}
