#version 330 core
// The lattice's rectangle [0, W] x [0, H] in world units (one unit per cell, y down), placed on
// screen by the camera: ndc = world * u_view.xy + u_view.zw. Four vertices from gl_VertexID
// (a triangle strip), no vertex buffer.

uniform vec2 u_size;   // lattice width, height in cells
uniform vec4 u_view;   // world -> NDC scale (xy) and offset (zw)

out vec2 v_world;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    v_world = corner * u_size;
    gl_Position = vec4(v_world * u_view.xy + u_view.zw, 0.0, 1.0);
}
