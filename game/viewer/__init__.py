"""The native viewer: the window, the renderer and its camera, the view loop, the HUD font, images.

``cybermesh view`` runs :func:`game.viewer.view.run_view`; the view bench draws its picture
offscreen.
"""
