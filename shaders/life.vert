#version 330 core
// Full-screen pass for the Life update (see life.frag).
//
// One oversized triangle instead of a quad: no vertex buffer is needed (positions come from
// gl_VertexID, drawn from an empty vertex array), and there is no diagonal seam where two triangles
// would each rasterise the same row of fragments. Vertices (-1,-1), (3,-1), (-1,3) cover the whole
// [-1,1]^2 viewport; the clipper trims the rest.

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
