#version 330 core
// Points, lines and triangles with a colour per vertex, in world units (the camera's u_view) or
// in pixels (a view that maps the framebuffer to NDC): the overlays and the HUD's panels.

uniform vec4 u_view;
uniform float u_point;

in vec2 in_pos;
in vec4 in_colour;
out vec4 v_colour;

void main() {
    v_colour = in_colour;
    gl_PointSize = u_point;
    gl_Position = vec4(in_pos * u_view.xy + u_view.zw, 0.0, 1.0);
}
