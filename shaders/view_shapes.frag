#version 330 core
// Round points (shards) when u_round, else flat colour.

uniform bool u_round;

in vec4 v_colour;
out vec4 f_colour;

void main() {
    if (u_round && length(gl_PointCoord - 0.5) > 0.5) {
        discard;
    }
    f_colour = v_colour;
}
